"""Regime filters (task ``strategy``, inputs ``prices``): hidden Markov and Markov-switching
models of returns used to be long in the good regime and flat otherwise.

``fit`` estimates the model on the training rows (returns in percent, optionally with a
10-bar mean absolute return as a volatility feature) and names the regime with the highest
mean return the *good* regime. ``predict`` returns at each row ``t`` the position for the
next bar: the probability that the next bar is in the good regime given bars ``0..t``
(``p``-variants, a position in [0, 1]), or ``1`` if that probability exceeds 0.5 else ``0``.

Why filtered, not smoothed: smoothed probabilities (``hmmlearn``'s ``predict_proba``,
statsmodels' ``smoothed_marginal_probabilities``) condition on the whole sample, so the
regime reported at ``t`` would already know the returns after ``t`` - a look-ahead that
makes any backtest meaningless. The forward (Hamilton) filter with parameters fixed at fit
time uses rows ``<= t`` only; its output is propagated one step with the transition
matrix because the engine applies the position to the next bar. The filter starts from the
stationary regime distribution, so it does not depend on where ``X`` starts.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .base import ModelSpec
from .threads import limit_threads

__all__ = ["SPECS", "HmmRegimeFilter", "MarkovRegimeFilter"]

_SCALE = 100.0
_VOL_WINDOW = 10


def _returns(X: pd.DataFrame) -> np.ndarray:
    if "ret_1" in X:
        r = pd.to_numeric(X["ret_1"], errors="coerce")
    else:
        r = X["close"].astype(float).pct_change()
    return np.nan_to_num(r.to_numpy(dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


def _stationary(trans: np.ndarray) -> np.ndarray:
    """Stationary distribution of a row-stochastic matrix (``trans[i, j] = P(j | i)``)."""
    vals, vecs = np.linalg.eig(trans.T)
    v = np.abs(np.real(vecs[:, np.argmin(np.abs(vals - 1.0))]))
    return v / v.sum() if v.sum() > 0 else np.full(len(trans), 1.0 / len(trans))


class _DropEmRounding(logging.Filter):
    """hmmlearn logs "Model is not converging" whenever an EM step lowers the log-likelihood
    by more than sqrt(machine epsilon). EM cannot lower it in exact arithmetic, so near the
    optimum that is rounding (seen: 4e-6 on a log-likelihood of -4,661, SPX 1999 to
    2013-04-12, 3 states), and a default trial refits 216 times, so the line would litter
    the terminal. The fit itself still stops at ``tol`` or ``n_iter``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Model is not converging")


_EM_LOG = logging.getLogger("hmmlearn.base")
_EM_FILTER = _DropEmRounding()


def _position(prob: np.ndarray, threshold: bool) -> np.ndarray:
    prob = np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)
    return (prob > 0.5).astype(float) if threshold else prob


class HmmRegimeFilter:
    """``hmmlearn.GaussianHMM`` fitted by EM, applied with a hand-written forward filter."""

    def __init__(
        self,
        n_states: int = 2,
        features: str = "returns",
        threshold: bool = True,
        n_iter: int = 100,
        random_state: int = 0,
    ):
        if n_states < 2:
            raise ValueError("n_states must be >= 2")
        if features not in ("returns", "returns_vol"):
            raise ValueError("features must be 'returns' or 'returns_vol'")
        self.n_states, self.features, self.threshold = int(n_states), features, bool(threshold)
        self.n_iter, self.random_state = int(n_iter), int(random_state)

    def _features(self, X: pd.DataFrame) -> np.ndarray:
        r = _SCALE * _returns(X)
        if self.features == "returns":
            return r[:, None]
        vol = pd.Series(np.abs(r)).rolling(_VOL_WINDOW, min_periods=1).mean().to_numpy()
        return np.column_stack([r, vol])

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> HmmRegimeFilter:
        from hmmlearn.hmm import GaussianHMM

        obs = self._features(X)
        model = GaussianHMM(
            n_components=self.n_states,
            covariance_type="full",
            n_iter=self.n_iter,
            tol=1e-4,
            random_state=self.random_state,
        )
        _EM_LOG.addFilter(_EM_FILTER)  # idempotent: a logger holds a filter once
        with warnings.catch_warnings(), limit_threads(1):
            warnings.simplefilter("ignore")
            model.fit(obs)
        self.means_ = np.asarray(model.means_, dtype=float)
        self.covars_ = np.asarray(model.covars_, dtype=float)  # full matrices
        self.transmat_ = np.asarray(model.transmat_, dtype=float)
        self.good_state_ = int(np.argmax(self.means_[:, 0]))
        return self

    def _log_emission(self, obs: np.ndarray) -> np.ndarray:
        from scipy.stats import multivariate_normal

        return np.column_stack(
            [
                multivariate_normal(mean=m, cov=c, allow_singular=True).logpdf(obs).reshape(-1)
                for m, c in zip(self.means_, self.covars_, strict=True)
            ]
        )

    def filtered_probabilities(self, X: pd.DataFrame) -> np.ndarray:
        """``P(state_t | rows 0..t)`` for every row (forward algorithm, normalised)."""
        obs = self._features(X)
        if len(obs) == 0:
            return np.empty((0, self.n_states))
        logb = self._log_emission(obs)
        lik = np.exp(logb - logb.max(axis=1, keepdims=True))
        out = np.empty_like(lik)
        prior = _stationary(self.transmat_)
        for t in range(len(lik)):
            post = prior * lik[t]
            s = post.sum()
            post = post / s if s > 0 and np.isfinite(s) else prior
            out[t] = post
            prior = post @ self.transmat_
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        filt = self.filtered_probabilities(X)
        nxt = filt @ self.transmat_  # P(state_{t+1} | rows 0..t)
        return _position(nxt[:, self.good_state_], self.threshold)


class MarkovRegimeFilter:
    """statsmodels Markov-switching mean/variance model (optionally with an AR(1) term)."""

    def __init__(self, order: int = 0, switching_ar: bool = False, threshold: bool = True):
        if order < 0:
            raise ValueError("order must be >= 0")
        self.order, self.switching_ar, self.threshold = int(order), bool(switching_ar), threshold

    def _model(self, r: np.ndarray) -> Any:
        if self.order == 0:
            from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

            return MarkovRegression(r, k_regimes=2, trend="c", switching_variance=True)
        from statsmodels.tsa.regime_switching.markov_autoregression import (
            MarkovAutoregression,
        )

        return MarkovAutoregression(
            r,
            k_regimes=2,
            order=self.order,
            switching_ar=self.switching_ar,
            switching_variance=True,
        )

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> MarkovRegimeFilter:
        model = self._model(_SCALE * _returns(X))
        with warnings.catch_warnings(), limit_threads(1):
            warnings.simplefilter("ignore")
            res = model.fit()
        self.params_ = np.asarray(res.params, dtype=float)
        names = list(model.param_names)
        means = [self.params_[names.index(f"const[{i}]")] for i in range(2)]
        self.good_state_ = int(np.argmax(means))
        # statsmodels: regime_transition[i, j] = P(s_t = i | s_{t-1} = j); transpose to rows.
        self.transmat_ = np.asarray(res.regime_transition, dtype=float)[:, :, 0].T
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        r = _SCALE * _returns(X)
        n = len(r)
        filt = np.tile(_stationary(self.transmat_), (n, 1))
        if n > self.order + 1:
            with warnings.catch_warnings(), limit_threads(1):
                warnings.simplefilter("ignore")
                res = self._model(r).filter(self.params_)
            # Markov AR drops its first `order` rows (conditioning values).
            filt[self.order :] = np.asarray(res.filtered_marginal_probabilities, dtype=float)
        nxt = filt @ self.transmat_
        return _position(nxt[:, self.good_state_], self.threshold)


def _spec(id: str, factory: Any, library: str, description: str, **defaults: Any) -> ModelSpec:
    return ModelSpec(
        id=id,
        family="regime",
        task="strategy",
        library=library,
        factory=factory,
        description=description,
        defaults=defaults,
        search_space={"threshold": (True, False)},
        inputs="prices",
        sequential=True,
    )


def _hmm_specs() -> list[ModelSpec]:
    out = []
    for k in (2, 3):
        for feats, suffix, what in (
            ("returns", "", "returns"),
            ("returns_vol", "_vol", "returns and 10-bar mean |return|"),
        ):
            for threshold in (True, False):
                pos = "long/flat when P(good) > 0.5" if threshold else "position = P(good)"
                out.append(
                    _spec(
                        f"hmm_{k}state{suffix}{'' if threshold else '_prob'}",
                        HmmRegimeFilter,
                        "hmmlearn",
                        f"Gaussian HMM, {k} states on {what}; filtered good-regime {pos}",
                        n_states=k,
                        features=feats,
                        threshold=threshold,
                        n_iter=100,
                        random_state=0,
                    )
                )
    return out


def _markov_specs() -> list[ModelSpec]:
    out = []
    for name, order, what in (
        ("markov_switching", 0, "Markov-switching mean and variance (2 regimes)"),
        ("markov_ar", 1, "Markov-switching AR(1), switching mean and variance (2 regimes)"),
    ):
        for threshold in (True, False):
            pos = "long/flat when P(good) > 0.5" if threshold else "position = P(good)"
            out.append(
                _spec(
                    f"{name}_2state{'' if threshold else '_prob'}",
                    MarkovRegimeFilter,
                    "statsmodels",
                    f"{what}; Hamilton-filtered {pos}",
                    order=order,
                    switching_ar=False,
                    threshold=threshold,
                )
            )
    return out


SPECS: list[ModelSpec] = _hmm_specs() + _markov_specs()
