"""Conditional-volatility models from ``arch`` (task ``volatility``, inputs ``prices``).

What ``predict`` means: at each row ``t`` the one-step-ahead conditional volatility, i.e. the
forecast standard deviation of the next bar's simple return given bars ``0..t``, in return
units (not percent) and always > 0.

How: ``fit`` estimates the mean, volatility and distribution parameters by maximum
likelihood on ``100 * ret_1`` of the training rows (percent returns keep the optimiser well
scaled). It also stores the recursion's starting value (arch's "backcast", an EWMA of the
first training residuals) and loose variance bounds from the training residuals.
``predict`` runs the volatility recursion (``VolatilityProcess.compute_variance``) over the
residuals it is given with all of these fixed, on the series with one dummy residual
appended: the variance at position ``t + 1`` depends on residuals ``0..t`` only, so it is
the forecast made at ``t``. Nothing computed from rows after ``t`` enters (arch's own
``fix``/``forecast`` would recompute the backcast and bounds from the whole series).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .base import ModelSpec

__all__ = ["SPECS", "ArchVolatility"]

_SCALE = 100.0
VOLS = ("garch", "egarch", "gjr_garch", "tarch", "aparch", "figarch", "harch", "arch", "ewma")
DISTS = ("normal", "t", "skewt", "ged")


def _returns(X: pd.DataFrame) -> np.ndarray:
    if "ret_1" in X:
        r = pd.to_numeric(X["ret_1"], errors="coerce")
    else:
        r = X["close"].astype(float).pct_change()
    return np.nan_to_num(r.to_numpy(dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


class ArchVolatility:
    """An ``arch`` mean/volatility/distribution model used as a causal volatility filter."""

    def __init__(
        self,
        vol: str = "garch",
        dist: str = "normal",
        mean: str = "constant",
        p: int = 1,
        q: int = 1,
        lags: Sequence[int] = (1, 5, 22),
        lam: float = 0.94,
    ):
        if vol not in VOLS:
            raise ValueError(f"vol must be one of {', '.join(VOLS)}")
        if dist not in DISTS:
            raise ValueError(f"dist must be one of {', '.join(DISTS)}")
        if mean not in ("constant", "zero"):
            raise ValueError("mean must be 'constant' or 'zero'")
        if p < 1 or q < 0:
            raise ValueError("need p >= 1 and q >= 0")
        if not 0.0 < lam < 1.0:
            raise ValueError("lam must be in (0, 1)")
        self.vol, self.dist, self.mean = vol, dist, mean
        self.p, self.q, self.lags, self.lam = int(p), int(q), tuple(int(x) for x in lags), lam

    def _process(self) -> Any:
        from arch.univariate import APARCH, ARCH, EGARCH, FIGARCH, GARCH, HARCH, EWMAVariance

        p, q = self.p, self.q
        return {
            "garch": lambda: GARCH(p=p, q=q),
            "gjr_garch": lambda: GARCH(p=p, o=1, q=q),
            "tarch": lambda: GARCH(p=p, o=1, q=q, power=1.0),
            "egarch": lambda: EGARCH(p=p, o=1, q=q),
            "aparch": lambda: APARCH(p=p, o=1, q=q),
            "figarch": lambda: FIGARCH(p=min(p, 1), q=min(q, 1)),
            "harch": lambda: HARCH(lags=list(self.lags)),
            "arch": lambda: ARCH(p=p),
            "ewma": lambda: EWMAVariance(lam=self.lam),
        }[self.vol]()

    def _distribution(self) -> Any:
        from arch.univariate import GeneralizedError, Normal, SkewStudent, StudentsT

        classes: dict[str, Any] = {
            "normal": Normal,
            "t": StudentsT,
            "skewt": SkewStudent,
            "ged": GeneralizedError,
        }
        return classes[self.dist]()

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> ArchVolatility:
        from arch.univariate import ConstantMean, ZeroMean
        from threadpoolctl import threadpool_limits

        r = _SCALE * _returns(X)
        mean_cls = ConstantMean if self.mean == "constant" else ZeroMean
        model = mean_cls(
            r, volatility=self._process(), distribution=self._distribution(), rescale=False
        )
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore")
            res = model.fit(disp="off", show_warning=False)
        params = np.asarray(res.params, dtype=float)
        k_mean, k_vol = model.num_params, model.volatility.num_params
        self.mu_ = float(params[0]) if k_mean else 0.0
        self.vol_params_ = params[k_mean : k_mean + k_vol]
        self.params_ = res.params
        self.process_ = model.volatility
        resid = r - self.mu_
        self.backcast_ = self.process_.backcast(resid)
        bounds = self.process_.variance_bounds(resid)
        self.var_bounds_ = (float(bounds[:, 0].min()), float(bounds[:, 1].max()))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        resid = _SCALE * _returns(X) - self.mu_
        ext = np.r_[resid, 0.0]  # dummy last residual: never used by sigma2[:n+1]
        sigma2 = np.zeros(len(ext))
        bounds = np.tile(np.array(self.var_bounds_), (len(ext), 1))
        self.process_.compute_variance(self.vol_params_, ext, sigma2, self.backcast_, bounds)
        return np.sqrt(np.maximum(sigma2[1:], 1e-12)) / _SCALE


_VOL_NAMES = {
    "garch": "GARCH(1,1)",
    "egarch": "EGARCH(1,1,1) (log-variance, asymmetric)",
    "gjr_garch": "GJR-GARCH(1,1,1) (leverage term)",
    "aparch": "APARCH(1,1,1) (asymmetric power, power estimated)",
    "figarch": "FIGARCH(1,d,1) (long memory)",
    "harch": "HARCH with lags 1, 5, 22 (heterogeneous horizons)",
}
_DIST_NAMES = {"normal": "normal", "t": "Student t", "skewt": "skewed t", "ged": "GED"}


def _spec(id: str, description: str, vol: str, **defaults: Any) -> ModelSpec:
    base = {"dist": "normal", "mean": "constant"}
    base.update(defaults)
    return ModelSpec(
        id=id,
        family="arch_volatility",
        task="volatility",
        library="arch",
        factory=partial(ArchVolatility, vol=vol),
        description=description,
        defaults=base,
        search_space={"mean": ("constant", "zero")},
        inputs="prices",
        sequential=True,
    )


SPECS: list[ModelSpec] = [
    _spec(
        f"{vol}_{dist}",
        f"{_VOL_NAMES[vol]} with {_DIST_NAMES[dist]} errors; next-bar volatility",
        vol,
        dist=dist,
        **({"lags": (1, 5, 22)} if vol == "harch" else {"p": 1, "q": 1}),
    )
    for vol in ("garch", "egarch", "gjr_garch", "aparch", "figarch", "harch")
    for dist in ("normal", "t", "skewt")
]
SPECS += [
    _spec("garch_ged", "GARCH(1,1) with generalised-error errors", "garch", dist="ged", p=1, q=1),
    _spec(
        "egarch_ged", "EGARCH(1,1,1) with generalised-error errors", "egarch", dist="ged", p=1, q=1
    ),
    _spec(
        "garch_normal_zero_mean",
        "GARCH(1,1), normal errors, zero mean (no drift in residuals)",
        "garch",
        mean="zero",
        p=1,
        q=1,
    ),
    _spec(
        "garch_t_zero_mean",
        "GARCH(1,1), Student t errors, zero mean",
        "garch",
        dist="t",
        mean="zero",
        p=1,
        q=1,
    ),
    _spec(
        "tarch_t",
        "TARCH/ZARCH(1,1,1): asymmetric model of absolute returns, Student t errors",
        "tarch",
        dist="t",
        p=1,
        q=1,
    ),
    _spec("arch_5_t", "ARCH(5) with Student t errors (no GARCH term)", "arch", dist="t", p=5, q=0),
    _spec(
        "riskmetrics_ewma",
        "RiskMetrics EWMA variance, lambda 0.94 (only the mean is estimated)",
        "ewma",
        lam=0.94,
    ),
]
