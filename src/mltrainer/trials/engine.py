"""The walk-forward engine: time-ordered folds, purged training windows, net returns.

For a fold whose test rows start at position ``s`` the model is trained on rows ``i`` with
``i < s - purge - embargo`` (``purge`` defaults to the label horizon ``h``), so no training
label window ``(i, i + h]`` reaches into the test fold. Rolling windows keep the last
``window_size`` of those rows; expanding windows keep them all and start once
``window_size`` rows are available. The model is refit before every fold of
``refit_every`` bars.

Execution timing: a prediction at bar ``t`` uses data up to the close of ``t`` and becomes
a position that is filled ``d = execution_delay`` bars later (default 1: an order sent after
the close of ``t`` is filled at the close of ``t + 1``, never at the close it was computed
from). It is held from ``close[t+d]`` to ``close[t+d+1]``; its return is
``position_t * (close[t+d+1] / close[t+d] - 1)``, less costs of
``|position_t - position_{t-1}| * (commission_bps + slippage_bps) / 1e4`` paid at the fill.
The last ``d + 1`` test bars have no complete holding period and are not traded.
``execution_delay=0`` (fill at the signal's own close) is how trials were run before the
field existed; their stored specs replay that way. Buy-and-hold over the same holding
periods is the benchmark.

Annualisation uses :func:`mltrainer.data.intervals.bar_frequency` of the fetched data
(bars per year measured from its timestamps, cross-checked with a trading calendar); the
figure and how it was obtained are stored with every result.

Fold-parallel fitting and threads: folds are independent fits, so once the folds fitted so
far project more than ``parallel_min_s`` seconds for the rest (or the last trial of the same
model and parameters in this engine did), the remaining folds run in
``fold_jobs`` loky worker processes (``MLTRAINER_FOLD_JOBS``, default one per core; 1 =
always sequential); short trials never pay for starting workers. Starting them costs about
1.7 s here (spawn and imports); while the joblib workers this engine last ran on are alive
(they live 300 s idle) a parallel start costs dispatch only, so the bar drops to
``warm_parallel_min_s``; see :meth:`WalkForwardEngine._parallel_bar`. Models whose fits
release the GIL (:attr:`ModelSpec.fold_threads`: LightGBM, XGBoost, CatBoost, forests and
bagging of trees) fit their parallel folds on threads of this process instead: nothing to
start and no data to send, so their bar is ``thread_parallel_min_s`` (0.2 s) and a cold
24-fold LightGBM trial takes about 1.7 s instead of 2.7 s sequential. Every fold, in the
parent, on a thread or in a worker, goes through :func:`fit_fold` on the same inputs (X
and y sent to workers once as arrays that joblib memory-maps, rebuilt into the same
frames), and results are placed in fold order, so predictions are identical whatever
``fold_jobs`` is; ``on_fold`` is still called in the calling thread, as folds complete. The rule that keeps the two levels of
parallelism from oversubscribing the cores: a model's own threads are the largest of its
thread parameters (``n_jobs``, ``n_threads``, ``thread_count``, ``nthread``,
``num_threads``; 1 in every registry default, -1/0/None = all cores), folds run in
``min(fold_jobs, cores // model_threads, folds left)`` processes or threads, and native BLAS/OpenMP
pools are capped at ``model_threads`` inside every fold (threadpoolctl in this process,
per thread for OpenMP on fold threads, joblib's ``inner_max_num_threads`` in the workers).
"""

from __future__ import annotations

import json
import logging
import math
import platform
import sys
import time
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..data.intervals import bar_frequency
from ..data.market import MarketData
from ..errors import MLTrainerError, ModelError, TrialError
from ..features import build_features, make_labels, price_inputs
from ..models.base import ModelSpec
from ..models.registry import Registry
from ..models.threads import limit_threads
from . import metrics as M
from .spec import FoldResult, TrialResult, TrialSpec

__all__ = [
    "WalkForwardEngine",
    "Fold",
    "plan_folds",
    "fit_fold",
    "model_threads",
    "TRIAL_TASKS",
    "THREAD_PARAMS",
]

log = logging.getLogger(__name__)

TRIAL_TASKS = ("regression", "classification", "forecast", "volatility", "strategy")
Fetch = Callable[..., MarketData]
OnFold = Callable[[int, int], None]
THREAD_PARAMS = ("n_jobs", "n_threads", "thread_count", "nthread", "num_threads")


class Fold:
    """Row positions of one fold: train ``[lo, hi)``, test ``[s, e)``."""

    __slots__ = ("lo", "hi", "s", "e")

    def __init__(self, lo: int, hi: int, s: int, e: int):
        self.lo, self.hi, self.s, self.e = lo, hi, s, e


def plan_folds(n: int, spec: TrialSpec) -> list[Fold]:
    """The folds for ``n`` usable rows; raises :class:`TrialError` when there are none."""
    gap = spec.effective_purge + spec.embargo
    first = spec.window_size + gap
    if first >= n:
        raise TrialError(
            f"not enough data: {n} usable bars, but the first fold needs {spec.window_size} "
            f"training bars + {gap} purge/embargo bars; widen the date range or lower window_size"
        )
    folds = []
    for s in range(first, n, spec.refit_every):
        hi = s - gap
        lo = max(0, hi - spec.window_size) if spec.window == "rolling" else 0
        folds.append(Fold(lo, hi, s, min(s + spec.refit_every, n)))
    if spec.max_folds:
        folds = folds[-spec.max_folds :]
    return folds


def _versions(mspec: ModelSpec) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mltrainer", "numpy", "pandas", "scikit-learn", mspec.library):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def cpu_cores() -> int:
    """Cores this process may use (joblib's count honours affinity and cgroup quotas)."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


_LOKY_IDLE_S = 300.0
"""joblib stops idle loky workers after this long (``idle_worker_timeout``)."""


def _loky_executor() -> Any | None:
    """joblib's reusable loky executor (the one every joblib ``Parallel`` in this process
    shares) if one is running. Reads private attributes: a change inside joblib reads as
    None (cold), slower but never wrong."""
    mod = sys.modules.get("joblib.externals.loky.reusable_executor")
    ex = getattr(mod, "_executor", None)
    flags = getattr(ex, "_flags", None)
    if ex is None or getattr(flags, "shutdown", True) or getattr(flags, "broken", True):
        return None
    return ex


def _loky_workers(executor: Any) -> int:
    """Live workers of ``executor`` if it is still joblib's running executor, else 0."""
    ex = _loky_executor()
    if ex is None or ex is not executor:
        return 0
    try:
        return sum(p.is_alive() for p in list(ex._processes.values()))
    except AttributeError:
        return 0


def model_threads(params: Mapping[str, Any], cores: int) -> int:
    """Threads a model with ``params`` starts itself: the largest thread parameter, where
    -1, 0 and None mean every core (``n_jobs=None`` is scikit-learn's 1)."""
    n = 1
    for k in THREAD_PARAMS:
        if k not in params:
            continue
        v = params[k]
        if v is None:
            t = 1 if k == "n_jobs" else cores
        elif isinstance(v, bool) or not isinstance(v, int | float):
            t = 1
        else:
            t = cores if v <= 0 else int(v)
        n = max(n, min(t, cores))
    return n


def resolve_params(mspec: ModelSpec, spec: TrialSpec, *, former: bool = False) -> dict[str, Any]:
    """The parameters a trial of ``spec`` fits with: the registry defaults (``former``: as
    they were before results recorded them), the spec's overrides, and the spec's seed as
    ``random_state`` unless the spec sets one. Unknown names raise :class:`ModelError`."""
    params = mspec.params(spec.params, former=former)
    if "random_state" in mspec.defaults and "random_state" not in spec.params:
        params["random_state"] = spec.seed
    return params


@dataclass(frozen=True)
class FoldData:
    """The trial's X and y as arrays plus their labels: sent to fold workers once per task
    as memory-mapped arrays instead of pickled frames, and rebuilt identically everywhere."""

    x: np.ndarray | pd.DataFrame
    y: np.ndarray
    index: pd.Index
    columns: pd.Index
    y_name: Hashable

    @classmethod
    def of(cls, X: pd.DataFrame, y: pd.Series) -> FoldData:
        # A frame of one dtype is one Fortran-ordered block; a mixed one travels as it is.
        x = np.asfortranarray(X.to_numpy()) if X.dtypes.nunique() <= 1 else X
        return cls(x, y.to_numpy(), X.index, X.columns, y.name)

    def frames(self) -> tuple[pd.DataFrame, pd.Series]:
        if isinstance(self.x, pd.DataFrame):
            X = self.x
        else:
            X = pd.DataFrame(
                np.asfortranarray(self.x), index=self.index, columns=self.columns, copy=False
            )
        return X, pd.Series(self.y, index=self.index, name=self.y_name, copy=False)


@dataclass(frozen=True)
class FoldOut:
    k: int
    pred: np.ndarray
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    n_train: int
    fit_s: float
    predict_s: float


def fit_fold(mspec: ModelSpec, params: dict[str, Any], data: FoldData, k: int, f: Fold) -> FoldOut:
    """Fit a fresh model on fold ``k``'s training rows and predict its test rows; the one
    code path for folds run in this process and in workers (errors are translated here)."""
    X, y_all = data.frames()
    y_tr = y_all.iloc[f.lo : f.hi]
    ok = y_tr.notna().to_numpy()
    X_tr, y_tr = X.iloc[f.lo : f.hi].loc[ok], y_tr.loc[ok]
    if len(X_tr) < 10 or (mspec.task == "classification" and y_tr.nunique() < 2):
        raise TrialError(f"fold {k}: too few usable training rows ({len(X_tr)}) or a single class")
    model = mspec.build(**params)
    ts = time.perf_counter()
    try:
        model.fit(X_tr, y_tr)
        tp = time.perf_counter()
        if mspec.sequential:
            p = np.asarray(model.predict(X.iloc[f.lo : f.e]), dtype=float)[-(f.e - f.s) :]
        else:
            p = np.asarray(model.predict(X.iloc[f.s : f.e]), dtype=float)
    except MLTrainerError:
        raise
    except Exception as e:  # library errors are translated at this edge
        raise ModelError(f"model '{mspec.id}' failed in fold {k}: {type(e).__name__}: {e}") from e
    te = time.perf_counter()
    if p.shape != (f.e - f.s,):
        raise ModelError(f"model '{mspec.id}' returned {p.shape} predictions for {f.e - f.s} rows")
    if not np.isfinite(p).all():
        raise ModelError(f"model '{mspec.id}' produced non-finite predictions in fold {k}")
    return FoldOut(k, p, X_tr.index[0], X_tr.index[-1], len(X_tr), tp - ts, te - tp)


JOBLIB_STOP_WARNING = (
    r"(\d+ tasks have been successfully executed +but not used\. +Additionally, +)?"
    r"\d+ tasks which were still being processed"
)
"""joblib's warning when a generator of results is closed early; ``filterwarnings``
matches from the start of the message, which begins with the executed-but-unused count
when some finished tasks were not consumed."""


def _largest_first(folds: list[Fold], start: int) -> list[int]:
    """Folds ``start..`` by training rows, most first (longest-processing-time order)."""
    return sorted(range(start, len(folds)), key=lambda k: folds[k].lo - folds[k].hi)


class WalkForwardEngine:
    """Runs :class:`TrialSpec` s. ``fetch(symbol, source=, start=, end=, interval=)`` must
    return compliance-checked :class:`MarketData` (the data service's ``fetch``)."""

    def __init__(
        self,
        registry: Registry,
        fetch: Fetch,
        *,
        fold_jobs: int | None = None,
        parallel_min_s: float = 3.0,
        warm_parallel_min_s: float = 0.5,
        thread_parallel_min_s: float = 0.2,
    ):
        self.registry = registry
        self.fetch = fetch
        self.fold_jobs = fold_jobs
        """Processes for fold fitting; None = one per core, 1 = sequential."""
        self.parallel_min_s = parallel_min_s
        """Go parallel only when the remaining folds project at least this many seconds."""
        self.warm_parallel_min_s = warm_parallel_min_s
        """The same bar when the workers this engine last used are alive (no start-up)."""
        self.thread_parallel_min_s = thread_parallel_min_s
        """The bar for models whose folds run on threads (:attr:`ModelSpec.fold_threads`):
        nothing to start, so only folds too quick to gain from a second core stay here."""
        self._workers: tuple[Any | None, int] = (None, 0)
        """The loky executor the last parallel folds ran on, and their thread cap."""
        self._projected_at = -math.inf
        """When a trial last projected past half of ``parallel_min_s``."""
        self._fold_s: dict[str, float] = {}
        """Mean seconds per fold of the last trial of each model and parameters, so the
        next one that projects past ``parallel_min_s`` starts in parallel at once instead
        of probing a fold while the other cores wait (a search runs one model many times)."""

    # -- folds ---------------------------------------------------------------------------
    def _fit_folds(
        self,
        mspec: ModelSpec,
        params: dict[str, Any],
        data: FoldData,
        folds: list[Fold],
        on_fold: OnFold | None,
    ) -> tuple[list[FoldOut], int, int, bool]:
        """Every fold's output in fold order, the number of processes (or threads) used,
        the number of folds fitted here before going parallel, and whether the parallel
        folds ran on threads."""
        cores = cpu_cores()
        threads = model_threads(params, cores)
        jobs = max(1, min(self.fold_jobs or cores, cores // threads))
        n = len(folds)
        outs: list[FoldOut | None] = [None] * n
        done = 0

        def record(out: FoldOut) -> None:
            nonlocal done
            outs[out.k] = out
            done += 1
            if on_fold:
                on_fold(done, n)

        key = f"{mspec.id}:{json.dumps(params, sort_keys=True, default=repr)}"
        known = self._fold_s.get(key)
        threaded = mspec.fold_threads
        bar = self.thread_parallel_min_s if threaded else self._parallel_bar(jobs, threads)
        at_once = jobs > 1 and n > 1 and known is not None and known * n > bar
        if known is not None and not threaded:
            self._note_projection(known * n)
        k = 0
        with limit_threads(threads):
            while k < n and not at_once:
                out = fit_fold(mspec, params, data, k, folds[k])
                record(out)
                k += 1
                left = n - k
                if k == 1 and not threaded:
                    self._note_projection((out.fit_s + out.predict_s) * left)
                if jobs > 1 and left > 1 and (out.fit_s + out.predict_s) * left > bar:
                    break
        used = 1
        if k < n:
            used = min(jobs, n - k)
            fan_out = self._threaded if threaded else self._parallel
            for out in fan_out(mspec, params, data, folds, k, used, threads):
                record(out)
            if not threaded:
                self._workers = (_loky_executor(), threads)
        done_outs = [o for o in outs if o is not None]
        if len(self._fold_s) >= 1000:  # a long search tries many parameter sets
            self._fold_s.clear()
        self._fold_s[key] = sum(o.fit_s + o.predict_s for o in done_outs) / len(done_outs)
        return done_outs, used, k, threaded and used > 1

    def _parallel_bar(self, jobs: int, threads: int) -> float:
        """Seconds of projected work above which the rest of a trial goes parallel.

        Going parallel saves about ``projection * (1 - 1/jobs)`` and costs the workers'
        start: about 1.7 s cold (spawn and imports), dispatch only when the workers this
        engine last used are still alive (with the same thread cap: another one makes
        loky replace them). Hence ``parallel_min_s`` cold,
        ``warm_parallel_min_s`` warm, and half the cold bar when another trial of this
        engine projected past that half within the workers' idle life: a search then pays
        the start once for the trials that follow it."""
        executor, last_threads = self._workers
        if last_threads == threads and _loky_workers(executor) >= jobs:
            return min(self.warm_parallel_min_s, self.parallel_min_s)
        if time.monotonic() - self._projected_at < _LOKY_IDLE_S:
            return self.parallel_min_s / 2
        return self.parallel_min_s

    def _note_projection(self, seconds: float) -> None:
        if seconds > self.parallel_min_s / 2:
            self._projected_at = time.monotonic()

    @staticmethod
    def _threaded(
        mspec: ModelSpec,
        params: dict[str, Any],
        data: FoldData,
        folds: list[Fold],
        start: int,
        jobs: int,
        threads: int,
    ) -> Iterator[FoldOut]:
        """Folds ``start..`` on ``jobs`` threads of this process, yielded as they complete,
        largest training set first as in :meth:`_parallel`. If the caller stops early
        (cancel, pause, an error), folds not started are dropped and running ones finish:
        a thread cannot be stopped, so a stop takes effect within one fold."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        def one(k: int) -> FoldOut:
            with limit_threads(threads, user_api="openmp"):  # this thread's OpenMP cap
                return fit_fold(mspec, params, data, k, folds[k])

        pool = ThreadPoolExecutor(jobs, thread_name_prefix="mltrainer-fold")
        # BLAS caps are per process (set here), OpenMP's per thread (set in ``one``).
        with limit_threads(threads):
            try:
                futures = [pool.submit(one, k) for k in _largest_first(folds, start)]
                for fut in as_completed(futures):
                    yield fut.result()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _parallel(
        mspec: ModelSpec,
        params: dict[str, Any],
        data: FoldData,
        folds: list[Fold],
        start: int,
        jobs: int,
        threads: int,
    ) -> Iterator[FoldOut]:
        """Folds ``start..`` in ``jobs`` loky processes, yielded as they complete.

        Dispatched largest training set first (longest-processing-time order): with an
        expanding window the last folds are the slowest fits, and sent last they would
        leave one process working alone at the end while the others wait."""
        from joblib import Parallel, delayed, parallel_config

        # Stopping early (an on_fold callback raised: cancel, pause) is not worth a warning.
        warnings.filterwarnings("ignore", message=JOBLIB_STOP_WARNING, category=UserWarning)
        with (
            parallel_config(backend="loky", inner_max_num_threads=threads),
            Parallel(n_jobs=jobs, return_as="generator_unordered", max_nbytes="32K") as par,
        ):
            order = _largest_first(folds, start)
            yield from par(delayed(fit_fold)(mspec, params, data, k, folds[k]) for k in order)

    # -- inputs ------------------------------------------------------------------------
    def _inputs(
        self, spec: TrialSpec, mspec: ModelSpec
    ) -> tuple[MarketData, pd.DataFrame, pd.Series, pd.Series, pd.Series]:
        md = self.fetch(
            spec.symbol, source=spec.source, start=spec.start, end=spec.end, interval=spec.interval
        )
        if "close" not in md.frame:
            raise TrialError(
                f"{md.symbol} is a {md.kind} series; trials need prices (try SPX, AAPL, GOOG)"
            )
        if mspec.inputs == "prices":
            X = price_inputs(md)
        else:
            X = build_features(
                md,
                spec.feature_set,
                fetch=lambda s: self.fetch(s, source="bundled", start=None, end=spec.end),
            )
        close = md.frame["close"]
        labels = make_labels(close, spec.horizon)
        d = spec.execution_delay
        # Return of the position decided at t, held from close[t+d] to close[t+d+1].
        held_ret = close.shift(-(d + 1)) / close.shift(-d) - 1
        exit_ts = pd.Series(close.index, index=close.index).shift(-(d + 1))
        keep = X.notna().all(axis=1).to_numpy()
        return md, X.loc[keep], labels.loc[keep], held_ret.loc[keep], exit_ts.loc[keep]

    # -- signals -> positions ---------------------------------------------------------------
    @staticmethod
    def _positions(
        spec: TrialSpec, task: str, pred: np.ndarray, bar_vol: np.ndarray, ppy: float
    ) -> np.ndarray:
        per_bar_target = spec.vol_target / math.sqrt(ppy)
        with np.errstate(divide="ignore", invalid="ignore"):
            if task == "volatility":
                scale = np.where(pred > 0, per_bar_target / pred, 0.0)
                return np.clip(np.nan_to_num(scale), 0.0, spec.max_leverage)
            signal = 2.0 * pred - 1.0 if task == "classification" else pred
            if task == "strategy":
                pos = np.clip(signal, -1.0, 1.0)
                if spec.position_rule == "long_only":
                    pos = np.clip(pos, 0.0, 1.0)
                elif spec.position_rule == "threshold":
                    pos = np.where(np.abs(pos) > spec.threshold, pos, 0.0)
            elif spec.position_rule == "threshold":
                pos = np.where(np.abs(signal) > spec.threshold, np.sign(signal), 0.0)
            elif spec.position_rule == "long_only":
                pos = (signal > spec.threshold).astype(float)
            else:
                pos = np.sign(signal)
            if spec.position_rule == "vol_target":
                scale = np.where(bar_vol > 0, per_bar_target / bar_vol, 0.0)
                pos = (
                    np.sign(pos)
                    * np.minimum(np.nan_to_num(scale), spec.max_leverage)
                    * np.minimum(np.abs(pos), 1.0)
                )
        return np.nan_to_num(pos)

    # -- the run ----------------------------------------------------------------------------
    def run(
        self,
        spec: TrialSpec,
        *,
        on_fold: OnFold | None = None,
        n_trials: int = 1,
        other_sharpes: Sequence[float] = (),
        model_params: Mapping[str, Any] | None = None,
    ) -> TrialResult:
        """Run ``spec``. ``model_params``: fit with these resolved parameters instead of
        resolving the spec against today's registry defaults (a replay passes the ones
        the stored result recorded)."""
        t0 = time.perf_counter()
        mspec = self.registry.get(spec.model_id)
        if mspec.task not in TRIAL_TASKS:
            raise TrialError(
                f"model '{mspec.id}' is a {mspec.task} model; run it with run_financial"
            )
        if not mspec.available:
            raise ModelError(f"model '{mspec.id}' is unavailable: {mspec.install_hint}")
        # validates names before any work
        params = resolve_params(mspec, spec) if model_params is None else dict(model_params)
        md, X, labels, held_ret, exit_ts = self._inputs(spec, mspec)
        t_data = time.perf_counter()
        freq = bar_frequency(md.frame.index, md.interval)
        ppy = freq.periods_per_year
        folds = plan_folds(len(X), spec)
        y_all = (labels > 0).astype(int) if mspec.task == "classification" else labels
        r1 = X["ret_1"]  # every feature set and the price inputs carry the one-bar return
        bar_vol = r1.rolling(20, min_periods=5).std().to_numpy()

        n_test = folds[-1].e - folds[0].s
        preds = np.full(n_test, np.nan)
        base = folds[0].s
        t_folds = time.perf_counter()
        outs, jobs_used, in_caller, on_threads = self._fit_folds(
            mspec, params, FoldData.of(X, y_all), folds, on_fold
        )
        folds_s = time.perf_counter() - t_folds
        fold_info: list[tuple] = []
        for o in outs:
            f = folds[o.k]
            preds[f.s - base : f.e - base] = o.pred
            fold_info.append((o.k, f, o.train_start, o.train_end, o.n_train, o.fit_s + o.predict_s))
        fit_s = sum(o.fit_s for o in outs)
        pred_s = sum(o.predict_s for o in outs)

        idx = X.index[base : folds[-1].e]
        pos = self._positions(spec, mspec.task, preds, bar_vol[base : folds[-1].e], ppy)
        nr = held_ret.iloc[base : folds[-1].e].to_numpy()
        lab = labels.iloc[base : folds[-1].e].to_numpy()
        real = ~np.isnan(nr)  # the last delay + 1 bars have no complete holding period
        turnover = np.abs(np.diff(np.concatenate([[0.0], pos])))
        cost = turnover * (spec.commission_bps + spec.slippage_bps) / 1e4
        net = pos * np.nan_to_num(nr) - cost
        strat, bh = net[real], nr[real]
        fold_rows = [
            self._fold_row(k, f, X, t_lo, t_hi, n_tr, secs, net, preds, lab, real, base, ppy)
            for k, f, t_lo, t_hi, n_tr, secs in fold_info
        ]
        sharpes = [s for s in other_sharpes if s is not None]
        metrics = self._metrics(
            strat, pos[real], turnover[real], preds, lab, mspec.task, ppy, n_trials, sharpes, nr
        )
        benchmark = self._returns_metrics(bh, ppy)
        eq, bh_eq = np.cumprod(1 + strat), np.cumprod(1 + bh)
        eq_ts = [t.isoformat() for t in exit_ts.iloc[base : folds[-1].e][real]]
        t_end = time.perf_counter()
        return TrialResult(
            spec=spec,
            spec_hash=spec.spec_hash(),
            data_sha256=md.provenance.sha256,
            model_task=mspec.task,
            metrics=metrics,
            benchmark=benchmark,
            folds=fold_rows,
            equity=list(zip(eq_ts, eq.tolist(), bh_eq.tolist(), strict=False)),
            predictions=[
                (t.isoformat(), float(p), float(q), _f(lv))
                for t, p, q, lv in zip(idx, preds, pos, lab, strict=True)
            ],
            versions=_versions(mspec),
            timings={
                "data_s": t_data - t0,
                "fit_s": fit_s,
                "predict_s": pred_s,
                # wall time of fitting and predicting every fold (fit_s and predict_s
                # add the folds' own times, which overlap when they ran in parallel)
                "folds_s": folds_s,
                "total_s": t_end - t0,
                "fold_jobs": float(jobs_used),
                "fold_threads": float(on_threads),
                "folds_in_caller": float(in_caller),
            },
            model_params=params,
            n_trials=n_trials,
            other_sharpes=sharpes,
            periods_per_year=ppy,
            frequency=freq.source,
        )

    # -- metrics -----------------------------------------------------------------------------
    @staticmethod
    def _returns_metrics(r: np.ndarray, ppy: float) -> dict[str, float | None]:
        return {
            "total_return": _f(float(np.prod(1 + r) - 1)) if r.size else None,
            "cagr": _f(M.annual_return(r, ppy)),
            "volatility": _f(M.annual_volatility(r, ppy)),
            "sharpe": _f(M.sharpe_ratio(r, ppy)),
            "sortino": _f(M.sortino_ratio(r, ppy)),
            "max_drawdown": _f(M.max_drawdown(r)),
            "calmar": _f(M.calmar_ratio(r, ppy)),
        }

    def _metrics(
        self, strat, pos, turnover, preds, lab, task, ppy, n_trials, other_sharpes, nr
    ) -> dict[str, float | None]:
        out = self._returns_metrics(strat, ppy)
        active = (pos != 0) & (strat != 0)
        out["hit_rate"] = _f(float(np.mean(strat[active] > 0))) if active.any() else None
        target = np.abs(lab) if task == "volatility" else lab
        ok = ~np.isnan(target)
        if ok.sum() > 2 and np.std(preds[ok]) > 0 and np.std(target[ok]) > 0:
            out["ic"] = _f(float(np.corrcoef(preds[ok], target[ok])[0, 1]))
            out["rank_ic"] = _f(float(stats.spearmanr(preds[ok], target[ok]).statistic))
        else:
            out["ic"] = out["rank_ic"] = None
        out["turnover"] = _f(float(np.mean(turnover) * ppy)) if turnover.size else None
        out["exposure"] = _f(float(np.mean(np.abs(pos)))) if pos.size else None
        out["trade_count"] = float(np.count_nonzero(turnover))
        out["n_bars"] = float(strat.size)
        if task == "classification" and ok.any():
            y = (lab[ok] > 0).astype(int)
            out["accuracy"] = _f(float(np.mean((preds[ok] > 0.5).astype(int) == y)))
            if 0 < y.sum() < y.size:
                from sklearn.metrics import roc_auc_score

                out["auc"] = _f(float(roc_auc_score(y, preds[ok])))
            else:
                out["auc"] = None
        out["psr"] = _f(M.probabilistic_sharpe_ratio(strat))
        out["dsr"] = _f(M.deflated_sharpe_ratio(strat, n_trials, other_sharpes))
        per_period = M.sharpe_ratio(strat, 1.0)
        out["sharpe_per_period"] = _f(per_period)
        return out

    @staticmethod
    def _fold_row(
        k, f: Fold, X, t_lo, t_hi, n_tr, secs, net, preds, lab, real, base, ppy
    ) -> FoldResult:
        sl = slice(f.s - base, f.e - base)
        r = net[sl][real[sl]]
        p, y = preds[sl], lab[sl]
        ok = ~np.isnan(y)
        ic = None
        if ok.sum() > 2 and np.std(p[ok]) > 0 and np.std(y[ok]) > 0:
            ic = _f(float(np.corrcoef(p[ok], y[ok])[0, 1]))
        return FoldResult(
            fold=k,
            train_start=t_lo.isoformat(),
            train_end=t_hi.isoformat(),
            test_start=X.index[f.s].isoformat(),
            test_end=X.index[f.e - 1].isoformat(),
            n_train=n_tr,
            n_test=f.e - f.s,
            total_return=_f(float(np.prod(1 + r) - 1)) if r.size else None,
            sharpe=_f(M.sharpe_ratio(r, ppy)),
            ic=ic,
            fit_seconds=secs,
        )
