"""Small sequence networks in PyTorch (family ``deep``, inputs ``features``, needs ``torch``).

LSTM, GRU, TCN (dilated causal convolutions) and a Transformer encoder, each as a regressor
(``predict`` = expected forward return over the horizon) and a classifier (``predict`` =
probability that the forward return is positive).

The input at row ``t`` is the window of feature rows ``t - lookback + 1 .. t``, standardised
with the training rows' mean and standard deviation (missing values -> 0 after scaling).
Rows with fewer than ``lookback`` predecessors are left-padded by repeating the first row
of ``X``, so every window holds rows ``<= t`` only and a prediction never sees the future;
the network reads the window in time order and is trained on the training rows only.
Regression targets are standardised with training statistics and mapped back.

Deterministic: ``torch.manual_seed(random_state)`` before building the net, a seeded
generator for mini-batch order and no dropout. Training runs in ``train_dtype`` (default
float32: 2.5-3x faster than float64 on this CPU for the same steps, and a default trial
refits 213 times); the trained weights are then cast to float64 and every prediction is
made in float64, so a prediction does not depend on how rows are batched at predict time.
``train_dtype="float64"`` trains as trials stored before 2026-12-02 did (their replay uses
it, see ``ModelSpec.former_defaults``). Training and inference use ``num_threads``
intra-op threads; the process-wide setting is restored afterwards.

Defaults, chosen so that a CLI-default trial (213 monthly refits of SPX 1999-2018) stays
within two minutes on 2 cores: 10 epochs of batches of 128 at lr 2e-3 (about 375 Adam steps
on the largest window), 6 epochs for the Transformer, whose attention costs about twice an
LSTM's epoch here. ``benchmarks/bench_walkforward.py --registry-defaults --families deep``
measures it.

``torch`` is imported lazily, so this module imports without it; the specs declare
``requires=("torch",)`` and report themselves unavailable with an install hint instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, partial
from typing import Any

import numpy as np
import pandas as pd

from .base import ModelSpec

__all__ = ["SPECS", "SequenceNet"]

ARCHS = ("lstm", "gru", "tcn", "transformer")
_DTYPES = ("float32", "float64")


@contextmanager
def _torch_threads(n: int) -> Iterator[Any]:
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield torch
    finally:
        torch.set_num_threads(old)


@cache
def _net_classes() -> dict[str, Any]:
    """Network classes, defined on first use so that importing this module needs no torch."""
    import torch
    from torch import nn

    class RNNNet(nn.Module):
        def __init__(self, cell: str, n_in: int, hidden: int, layers: int, lookback: int):
            super().__init__()
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(n_in, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x):  # x: (batch, lookback, n_in)
            out, _ = self.rnn(x)
            return self.head(out[:, -1]).squeeze(-1)

    class CausalBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int):
            super().__init__()
            self.pad = (kernel - 1) * dilation
            self.conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
            self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
            self.act = nn.ReLU()

        def forward(self, x):  # x: (batch, channels, time); left padding only -> causal
            y = self.conv(nn.functional.pad(x, (self.pad, 0)))
            return self.act(y) + self.skip(x)

    class TCNNet(nn.Module):
        def __init__(self, cell: str, n_in: int, hidden: int, layers: int, lookback: int):
            super().__init__()
            blocks = [
                CausalBlock(n_in if i == 0 else hidden, hidden, kernel=3, dilation=2**i)
                for i in range(layers)
            ]
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x):
            h = self.blocks(x.transpose(1, 2))
            return self.head(h[:, :, -1]).squeeze(-1)

    class TransformerNet(nn.Module):
        def __init__(self, cell: str, n_in: int, hidden: int, layers: int, lookback: int):
            super().__init__()
            self.proj = nn.Linear(n_in, hidden)
            self.pos = nn.Parameter(torch.zeros(1, lookback, hidden))
            nn.init.trunc_normal_(self.pos, std=0.02)
            layer = nn.TransformerEncoderLayer(
                d_model=hidden,
                nhead=4 if hidden % 4 == 0 else 1,
                dim_feedforward=2 * hidden,
                dropout=0.0,
                batch_first=True,
            )
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x):
            h = self.encoder(self.proj(x) + self.pos[:, -x.shape[1] :])
            return self.head(h[:, -1]).squeeze(-1)

    return {"lstm": RNNNet, "gru": RNNNet, "tcn": TCNNet, "transformer": TransformerNet}


def _windows(Z: np.ndarray, lookback: int) -> np.ndarray:
    """``(n, lookback, k)`` windows ending at each row; the start is padded with row 0."""
    pad = np.repeat(Z[:1], lookback - 1, axis=0)
    full = np.concatenate([pad, Z], axis=0)
    win = np.lib.stride_tricks.sliding_window_view(full, lookback, axis=0)  # (n, k, lookback)
    return np.ascontiguousarray(win.transpose(0, 2, 1))


class SequenceNet:
    """Windowed sequence model with a scikit-learn style ``fit``/``predict``."""

    def __init__(
        self,
        arch: str = "lstm",
        task: str = "regression",
        lookback: int = 20,
        hidden: int = 32,
        num_layers: int = 1,
        epochs: int = 15,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        random_state: int = 0,
        num_threads: int = 1,
        train_dtype: str = "float32",
    ):
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}")
        if task not in ("regression", "classification"):
            raise ValueError("task must be 'regression' or 'classification'")
        if lookback < 1 or hidden < 1 or num_layers < 1 or epochs < 1 or batch_size < 1:
            raise ValueError("lookback, hidden, num_layers, epochs, batch_size must be >= 1")
        if lr <= 0:
            raise ValueError("lr must be > 0")
        if train_dtype not in _DTYPES:
            raise ValueError(f"train_dtype must be one of {', '.join(_DTYPES)}")
        self.arch, self.task, self.lookback = arch, task, int(lookback)
        self.hidden, self.num_layers, self.epochs = int(hidden), int(num_layers), int(epochs)
        self.batch_size, self.lr, self.weight_decay = int(batch_size), float(lr), weight_decay
        self.random_state, self.num_threads = int(random_state), int(num_threads)
        self.train_dtype = train_dtype

    # -- helpers -------------------------------------------------------------------------
    def _scaled(self, X: pd.DataFrame) -> np.ndarray:
        Z = (X.to_numpy(dtype=float) - self.x_mean_) / self.x_std_
        return np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0)

    def _new_net(self) -> Any:
        """A freshly initialised float64 network (weights drawn by torch's default RNG)."""
        cls = _net_classes()[self.arch]
        return cls(
            self.arch, self.n_features_, self.hidden, self.num_layers, self.lookback
        ).double()

    # -- estimator API -------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: pd.Series) -> SequenceNet:
        xv = X.to_numpy(dtype=float)
        yv = np.asarray(y, dtype=float).reshape(-1)
        if len(xv) != len(yv):
            raise ValueError("X and y have different lengths")
        self.n_features_ = xv.shape[1]
        with np.errstate(all="ignore"):
            self.x_mean_ = np.nan_to_num(np.nanmean(xv, axis=0))
            std = np.nan_to_num(np.nanstd(xv, axis=0))
        self.x_std_ = np.where(std > 1e-12, std, 1.0)
        keep = np.isfinite(yv)
        if keep.sum() < 2:
            raise ValueError("need at least two finite labels to train")
        W = _windows(self._scaled(X), self.lookback)[keep]
        t = yv[keep]
        if self.task == "regression":
            self.y_mean_, self.y_std_ = float(t.mean()), float(t.std()) or 1.0
            t = (t - self.y_mean_) / self.y_std_
        else:
            t = (t > 0.5).astype(float)

        with _torch_threads(self.num_threads) as torch:
            torch.manual_seed(self.random_state)
            dtype = getattr(torch, self.train_dtype)
            net = self._new_net().to(dtype)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            loss_fn = (
                torch.nn.MSELoss() if self.task == "regression" else torch.nn.BCEWithLogitsLoss()
            )
            xs = torch.from_numpy(W).to(dtype)
            ts = torch.from_numpy(t).to(dtype)
            gen = torch.Generator().manual_seed(self.random_state)
            net.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(xs), generator=gen)
                for i in range(0, len(xs), self.batch_size):
                    idx = order[i : i + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(net(xs[idx]), ts[idx])
                    loss.backward()
                    opt.step()
            net.eval()
        self.net_ = net.double()  # predictions in float64 whatever the training precision
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.empty(0)
        W = _windows(self._scaled(X), self.lookback)
        with _torch_threads(self.num_threads) as torch, torch.no_grad():
            xs = torch.from_numpy(W)
            out = torch.cat([self.net_(xs[i : i + 512]) for i in range(0, len(xs), 512)])
            if self.task == "classification":
                out = torch.sigmoid(out)
            res = out.numpy().astype(float)
        if self.task == "regression":
            res = res * self.y_std_ + self.y_mean_
        return res

    # -- pickling: store weights, rebuild the network on load ----------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        if net is not None:
            state["_weights"] = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("_weights", None)
        state.setdefault("train_dtype", "float64")  # pickled before the parameter existed
        self.__dict__.update(state)
        if weights is not None:
            import torch

            net = self._new_net()
            net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
            self.net_ = net.eval()


_DESCR = {
    "lstm": "LSTM",
    "gru": "GRU",
    "tcn": "TCN (dilated causal 1-D convolutions, dilations 1-8)",
    "transformer": "Transformer encoder (learned positions, last-token readout)",
}


def _spec(arch: str, task: str) -> ModelSpec:
    kind = "regressor" if task == "regression" else "classifier"
    layers = 4 if arch == "tcn" else 1
    hidden = 16 if arch in ("tcn", "transformer") else 32
    what = "expected forward return" if task == "regression" else "P(forward return > 0)"
    return ModelSpec(
        id=f"{arch}_{kind}",
        family="deep",
        task=task,  # type: ignore[arg-type]
        library="torch",
        factory=partial(SequenceNet, arch=arch, task=task),
        description=f"{_DESCR[arch]} on the last `lookback` feature rows; predicts {what}",
        defaults={
            "lookback": 20,
            "hidden": hidden,
            "num_layers": layers,
            "epochs": 6 if arch == "transformer" else 10,
            "batch_size": 128,
            "lr": 2e-3,
            "weight_decay": 0.0,
            "random_state": 0,
            "num_threads": 1,
            "train_dtype": "float32",
        },
        former_defaults={"epochs": 15, "batch_size": 64, "lr": 1e-3, "train_dtype": "float64"},
        search_space={
            "lookback": (10, 20, 40),
            "hidden": (16, 32),
            "epochs": (10, 20),
            "lr": (1e-3, 3e-3),
        },
        inputs="features",
        sequential=True,
        extra="deep",
        requires=("torch",),
    )


SPECS: list[ModelSpec] = [
    _spec(arch, task) for arch in ARCHS for task in ("regression", "classification")
]
