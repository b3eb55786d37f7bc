"""Classical time-series forecasters from statsmodels (task ``forecast``, inputs ``prices``).

What ``predict`` means: at each row ``t`` the model's **one-step-ahead forecast of the next
bar's simple return** (from ``t`` to ``t + 1``) given bars ``0..t``. It is not scaled to the
trial horizon: for these short-memory models the sign of the next-bar forecast is the
direction signal, and the horizon is not needed.

Why it is causal: parameters are estimated once, in ``fit``, on the training rows only.
``predict`` then runs the model's recursion (Kalman filter, AR difference equation,
exponential smoothing) over the rows it is given with those parameters fixed, so the value
at ``t`` depends on rows ``<= t`` only and no model is refitted per row. State-space models
use ``results.apply(endog, refit=False)`` on the series with one missing observation
appended: the in-sample one-step prediction at position ``t + 1`` is then exactly
``E[y_{t+1} | y_0..y_t]``.

Series: ARIMA, AutoReg, SES and the local-level models work on returns (scaled by 100 for
numerical stability); Holt, Theta and the trend models work on 100 * log(close), and the
forecast is turned into a return as ``exp(forecast - log close_t) - 1``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from .base import ModelSpec
from .threads import limit_threads

__all__ = ["SPECS"]

_SCALE = 100.0


@contextmanager
def _quiet_single_thread() -> Iterator[None]:
    """Silence statsmodels warnings and use one BLAS thread.

    The matrices are tiny; multi-threaded BLAS only adds contention (10-40x slower fits
    on a busy 2-core machine).
    """
    with warnings.catch_warnings(), limit_threads(1, user_api="blas"):
        warnings.simplefilter("ignore")
        yield


def _returns(X: pd.DataFrame) -> np.ndarray:
    """Simple one-bar returns: ``ret_1`` when present, else from ``close``; NaN -> 0."""
    if "ret_1" in X:
        r = pd.to_numeric(X["ret_1"], errors="coerce")
    else:
        r = X["close"].astype(float).pct_change()
    return np.nan_to_num(r.to_numpy(dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


def _log_close(X: pd.DataFrame) -> np.ndarray:
    close = X["close"].astype(float).ffill().bfill().to_numpy()
    return np.log(close)


class _Base:
    """Shared plumbing: series extraction and the return conversion."""

    target: str = "returns"  # or "log_price"

    def _series(self, X: pd.DataFrame) -> np.ndarray:
        if self.target == "returns":
            return _SCALE * _returns(X)
        return _SCALE * _log_close(X)

    def _to_return(self, nxt: np.ndarray, series: np.ndarray) -> np.ndarray:
        """Forecast of the next series value -> expected next-bar simple return."""
        if self.target == "returns":
            return np.asarray(nxt / _SCALE, dtype=float)
        return np.asarray(np.expm1((nxt - series) / _SCALE), dtype=float)


class _StateSpaceForecaster(_Base):
    """Fit a statsmodels state-space model once; filter new rows with fixed parameters."""

    def _model(self, endog: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, model: Any) -> Any:
        return model.fit(disp=False)

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> _StateSpaceForecaster:
        series = self._series(X)
        with _quiet_single_thread():
            self.results_ = self._fit(self._model(series))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        series = self._series(X)
        if len(series) == 0:
            return np.empty(0)
        with _quiet_single_thread():
            # One NaN appended: prediction at position t + 1 uses observations 0..t only.
            res = self.results_.apply(np.r_[series, np.nan], refit=False)
            nxt = np.asarray(res.predict(), dtype=float)[1:]
        return self._to_return(nxt, series)


class ArimaForecaster(_StateSpaceForecaster):
    """ARIMA(p, d, q) on returns (statsmodels ``ARIMA``, exact MLE)."""

    def __init__(self, p: int = 1, d: int = 0, q: int = 0, trend: str = "c"):
        self.p, self.d, self.q, self.trend = int(p), int(d), int(q), trend
        if min(self.p, self.d, self.q) < 0:
            raise ValueError("ARIMA orders must be >= 0")

    def _model(self, endog: np.ndarray) -> Any:
        from statsmodels.tsa.arima.model import ARIMA

        trend = self.trend if self.d == 0 else "n"
        return ARIMA(endog, order=(self.p, self.d, self.q), trend=trend)

    def _fit(self, model: Any) -> Any:
        return model.fit()


class SarimaForecaster(_StateSpaceForecaster):
    """Seasonal ARMA on returns, e.g. a weekly (5-bar) seasonal AR term (``SARIMAX``)."""

    def __init__(self, p: int = 1, q: int = 0, P: int = 1, Q: int = 0, s: int = 5):
        self.p, self.q, self.P, self.Q, self.s = int(p), int(q), int(P), int(Q), int(s)
        if self.s < 2:
            raise ValueError("seasonal period s must be >= 2")

    def _model(self, endog: np.ndarray) -> Any:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        return SARIMAX(
            endog,
            order=(self.p, 0, self.q),
            seasonal_order=(self.P, 0, self.Q, self.s),
            trend="c",
        )


class EtsForecaster(_StateSpaceForecaster):
    """Exponential smoothing (state-space form): SES on returns, Holt on log price."""

    def __init__(self, trend: bool = False, damped: bool = False, target: str = "returns"):
        if target not in ("returns", "log_price"):
            raise ValueError("target must be 'returns' or 'log_price'")
        if damped and not trend:
            raise ValueError("damped=True needs trend=True")
        self.trend, self.damped, self.target = bool(trend), bool(damped), target

    def _model(self, endog: np.ndarray) -> Any:
        from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

        return ExponentialSmoothing(endog, trend=self.trend, damped_trend=self.damped)


class UnobservedComponentsForecaster(_StateSpaceForecaster):
    """Structural (Kalman) model: local level on returns, local/smooth trend on log price."""

    def __init__(self, level: str = "llevel", autoregressive: int = 0, target: str = "returns"):
        if target not in ("returns", "log_price"):
            raise ValueError("target must be 'returns' or 'log_price'")
        self.level, self.autoregressive, self.target = level, int(autoregressive), target

    def _model(self, endog: np.ndarray) -> Any:
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        return UnobservedComponents(
            endog, level=self.level, autoregressive=self.autoregressive or None
        )


class ThetaForecaster(_Base):
    """Theta method (Hyndman & Billah) on log price with alpha and drift fixed at fit.

    ``predict`` runs the SES recursion causally (level initialised at the first row, as
    statsmodels' ``ThetaModel`` does) and adds the theta drift term for ``t + 1`` bars
    observed, so each value is the one-step theta forecast made at ``t``.
    """

    target = "log_price"

    def __init__(self, theta: float = 2.0):
        self.theta = float(theta)
        if self.theta < 1:
            raise ValueError("theta must be >= 1")

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> ThetaForecaster:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        series = self._series(X)
        with _quiet_single_thread():
            res = ThetaModel(series, deseasonalize=False).fit()
        b0, alpha = (float(v) for v in np.asarray(res.params))
        self.b0_, self.alpha_ = b0, float(np.clip(alpha, 1e-6, 1.0))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.signal import lfilter

        x = self._series(X)
        if len(x) == 0:
            return np.empty(0)
        a = self.alpha_
        level = lfilter([a], [1.0, -(1.0 - a)], x, zi=[(1.0 - a) * x[0]])[0]
        nobs = np.arange(1, len(x) + 1, dtype=float)
        drift = self.b0_ * (1.0 / a - (1.0 - a) ** nobs / a)
        nxt = level + (self.theta - 1.0) / self.theta * drift
        return self._to_return(nxt, x)


class AutoRegForecaster(_Base):
    """AutoReg (OLS) on returns with lags ``1..lags``, or lags chosen by ``ic`` up to ``lags``.

    Lags before the first row are taken as 0 (a zero return).
    """

    def __init__(self, lags: int = 5, select: bool = False, ic: str = "bic"):
        self.lags, self.select, self.ic = int(lags), bool(select), ic
        if self.lags < 1:
            raise ValueError("lags must be >= 1")
        if ic not in ("aic", "bic", "hqic"):
            raise ValueError("ic must be aic, bic or hqic")

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> AutoRegForecaster:
        from statsmodels.tsa.ar_model import AutoReg, ar_select_order

        r = self._series(X)
        with _quiet_single_thread():
            if self.select:
                sel = ar_select_order(r, maxlag=self.lags, ic=self.ic, trend="c")
                lags = list(sel.ar_lags or [])
            else:
                lags = list(range(1, self.lags + 1))
            res = AutoReg(r, lags=lags or 0, trend="c").fit()
        params = np.asarray(res.params, dtype=float)
        self.lags_ = lags
        self.const_, self.coefs_ = float(params[0]), params[1:]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        r = self._series(X)
        nxt = np.full(len(r), self.const_)
        for lag, phi in zip(self.lags_, self.coefs_, strict=True):
            # Forecast of r[t+1] uses r[t+1-lag]: r shifted by lag - 1, zeros before the start.
            shifted = np.zeros(len(r))
            k = lag - 1
            shifted[k:] = r[: len(r) - k]
            nxt += phi * shifted
        return self._to_return(nxt, r)


def _spec(id: str, factory: Any, description: str, **kw: Any) -> ModelSpec:
    return ModelSpec(
        id=id,
        family="statsmodels_forecast",
        task="forecast",
        library="statsmodels",
        factory=factory,
        description=description,
        inputs="prices",
        sequential=True,
        **kw,
    )


def _arima(p: int, q: int) -> ModelSpec:
    return _spec(
        f"arima_{p}_0_{q}",
        ArimaForecaster,
        f"ARIMA({p},0,{q}) with constant on returns; one-step next-bar return forecast",
        defaults={"p": p, "d": 0, "q": q, "trend": "c"},
        search_space={"trend": ("c", "n")},
    )


def _autoreg(lags: int) -> ModelSpec:
    return _spec(
        f"autoreg_{lags}",
        AutoRegForecaster,
        f"AutoReg with lags 1..{lags} on returns (OLS); next-bar return forecast",
        defaults={"lags": lags, "select": False, "ic": "bic"},
    )


SPECS: list[ModelSpec] = [
    _arima(1, 0),
    _arima(0, 1),
    _arima(1, 1),
    _arima(2, 0),
    _arima(2, 2),
    _spec(
        "sarima_1_0_0_s5",
        SarimaForecaster,
        "Seasonal AR: ARMA(1,0) x (1,0,0) weekly (5-bar) on returns",
        defaults={"p": 1, "q": 0, "P": 1, "Q": 0, "s": 5},
        search_space={"s": (5, 21)},
    ),
    _spec(
        "sarima_1_0_1_s5",
        SarimaForecaster,
        "Seasonal ARMA(1,0,1) x (1,0,1) weekly (5-bar) on returns",
        defaults={"p": 1, "q": 1, "P": 1, "Q": 1, "s": 5},
        search_space={"s": (5, 21)},
    ),
    _spec(
        "ses_returns",
        EtsForecaster,
        "Simple exponential smoothing of returns (adaptive mean return)",
        defaults={"trend": False, "damped": False, "target": "returns"},
    ),
    _spec(
        "holt_logprice",
        EtsForecaster,
        "Holt linear-trend exponential smoothing on log price",
        defaults={"trend": True, "damped": False, "target": "log_price"},
    ),
    _spec(
        "holt_damped_logprice",
        EtsForecaster,
        "Holt damped-trend exponential smoothing on log price",
        defaults={"trend": True, "damped": True, "target": "log_price"},
    ),
    _spec(
        "theta_logprice",
        ThetaForecaster,
        "Theta method (SES + half the linear drift) on log price",
        defaults={"theta": 2.0},
        search_space={"theta": (1.5, 2.0, 3.0)},
    ),
    _spec(
        "uc_local_level",
        UnobservedComponentsForecaster,
        "Kalman local-level model of returns (time-varying mean return)",
        defaults={"level": "llevel", "autoregressive": 0, "target": "returns"},
    ),
    _spec(
        "uc_local_level_ar1",
        UnobservedComponentsForecaster,
        "Kalman local level plus AR(1) component on returns",
        defaults={"level": "llevel", "autoregressive": 1, "target": "returns"},
    ),
    _spec(
        "uc_local_linear_trend",
        UnobservedComponentsForecaster,
        "Kalman local linear trend on log price (stochastic level and slope)",
        defaults={"level": "lltrend", "autoregressive": 0, "target": "log_price"},
    ),
    _spec(
        "uc_smooth_trend",
        UnobservedComponentsForecaster,
        "Kalman smooth trend on log price (integrated random-walk slope)",
        defaults={"level": "strend", "autoregressive": 0, "target": "log_price"},
    ),
    _autoreg(1),
    _autoreg(5),
    _autoreg(10),
    _autoreg(20),
    _spec(
        "autoreg_bic",
        AutoRegForecaster,
        "AutoReg on returns with lags selected by BIC (up to 20)",
        defaults={"lags": 20, "select": True, "ic": "bic"},
        search_space={"lags": (10, 20)},
    ),
    _spec(
        "autoreg_aic",
        AutoRegForecaster,
        "AutoReg on returns with lags selected by AIC (up to 20)",
        defaults={"lags": 20, "select": True, "ic": "aic"},
        search_space={"lags": (10, 20)},
    ),
]
