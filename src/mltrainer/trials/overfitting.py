"""Overfitting statistics over a whole search: PBO by CSCV and the run-level DSR.

Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu 2015, "The
Probability of Backtest Overfitting", J. Computational Finance): the ``T x N`` matrix of
the N trials' per-period returns is cut into ``S`` equal blocks of consecutive rows (the
``T mod S`` oldest rows are dropped so the blocks are equal). For every one of the
``C(S, S/2)`` ways to pick half the blocks as the in-sample set J (rows kept in time
order) and the rest as the out-of-sample set J̄, the trial with the best in-sample metric
is found, its out-of-sample rank ``r`` among the N trials (1 = worst; ties get their
average rank) gives ``w = r / (N + 1)`` and the logit ``λ = ln(w / (1 - w))``. PBO is
the share of combinations with ``λ <= 0``: how often the in-sample winner is no better
than the median out of sample. Near 0.5 or above, the selection is noise.

The default metric is the per-period Sharpe ratio (mean / sample standard deviation); it
is computed for every combination at once from per-block sums, so S = 16 (12,870
combinations) with 50 trials takes a few milliseconds.

The run-level DSR (:func:`run_dsr`) deflates the selected trial's Sharpe by the number
of trials the run tried and the variance of their per-period Sharpes (Bailey & López de
Prado 2014), through :func:`mltrainer.trials.metrics.dsr_from_moments`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from ..errors import TrialError
from . import metrics as M

__all__ = ["PBOResult", "RunDSR", "pbo_cscv", "block_sharpes", "run_dsr"]

Metric = Callable[[np.ndarray], np.ndarray]
"""Maps a ``rows x N`` block of returns to N scores (higher is better)."""


@dataclass(frozen=True)
class PBOResult:
    pbo: float
    """Share of combinations whose in-sample best trial ranks at or below the median out
    of sample (logit <= 0)."""
    logits: np.ndarray
    """λ of every combination, in the order of :attr:`combinations`."""
    n_combinations: int
    n_blocks: int
    n_trials: int
    rows_used: int
    """Rows in the S blocks (T minus the ``T mod S`` oldest rows)."""
    best_in_sample: np.ndarray
    """Index of the in-sample best trial of each combination."""
    is_metric: np.ndarray
    """The in-sample best trial's in-sample metric, per combination."""
    oos_metric: np.ndarray
    """The same trial's out-of-sample metric, per combination (performance degradation)."""
    combinations: np.ndarray
    """``C x S/2`` block indices of each in-sample set."""

    @property
    def degradation_slope(self) -> float:
        """Least-squares slope of out-of-sample on in-sample metric of the selected trials
        (negative: the better it looked in sample, the worse it did out of sample)."""
        x, y = self.is_metric, self.oos_metric
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 2 or np.ptp(x[ok]) == 0:
            return math.nan
        return float(np.polyfit(x[ok], y[ok], 1)[0])

    @property
    def prob_oos_loss(self) -> float:
        """Share of combinations whose selected trial has a negative out-of-sample metric."""
        return float(np.mean(self.oos_metric < 0))

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures for a run report (no per-combination arrays)."""

        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "pbo": self.pbo,
            "n_combinations": self.n_combinations,
            "n_blocks": self.n_blocks,
            "n_trials": self.n_trials,
            "rows_used": self.rows_used,
            "logit_median": f(float(np.median(self.logits))),
            "degradation_slope": f(self.degradation_slope),
            "prob_oos_loss": self.prob_oos_loss,
        }


def block_sharpes(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe of each column (mean / std with ddof 1); NaN for a flat column."""
    sd = returns.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, returns.mean(axis=0) / sd, np.nan)


def _sharpes_from_sums(n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Sharpe of every (combination, trial) from row counts ``n`` (C x 1) and sums."""
    mean = s1 / n
    var = (s2 - s1 * mean) / (n - 1)
    sd = np.sqrt(np.clip(var, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        # A variance at rounding-error level is a flat series, not a huge Sharpe.
        flat = sd <= 1e-12 * np.maximum(np.abs(mean), 1e-300)
        return np.where(flat | (sd == 0), np.nan, mean / sd)


def _avg_rank_of(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Average rank (1 = lowest) of ``values[c, chosen[c]]`` inside row c; NaN = lowest."""
    v = np.where(np.isnan(values), -np.inf, values)
    pick = v[np.arange(len(v)), chosen][:, None]
    less = (v < pick).sum(axis=1)
    equal = (v == pick).sum(axis=1)
    return less + (equal + 1) / 2.0


def pbo_cscv(
    returns: np.ndarray | Sequence[Sequence[float]],
    n_blocks: int = 16,
    metric: Metric | None = None,
) -> PBOResult:
    """PBO of choosing the best of N trials by ``metric`` (default per-period Sharpe).

    ``returns`` is ``T x N``: one column per trial, rows aligned in time, no NaN (align the
    trials on their common bars first). ``n_blocks`` S must be even; every block needs at
    least two rows.
    """
    m = np.asarray(returns, dtype=float)
    if m.ndim != 2:
        raise TrialError(f"returns must be a T x N matrix, got shape {m.shape}")
    t, n = m.shape
    if n < 2:
        raise TrialError(f"PBO needs at least 2 trials, got {n}")
    if n_blocks < 2 or n_blocks % 2:
        raise TrialError(f"n_blocks must be an even number >= 2, got {n_blocks}")
    if t < 2 * n_blocks:
        raise TrialError(f"{t} rows are too few for {n_blocks} blocks (need {2 * n_blocks})")
    if not np.isfinite(m).all():
        raise TrialError("returns contain NaN or infinite values; align the trials first")
    size = t // n_blocks
    m = m[t - size * n_blocks :]  # drop the oldest rows so that every block is equal
    blocks = m.reshape(n_blocks, size, n)
    combos = np.array(list(combinations(range(n_blocks), n_blocks // 2)), dtype=int)
    member = np.zeros((len(combos), n_blocks), dtype=bool)
    member[np.arange(len(combos))[:, None], combos] = True
    if metric is None:
        s1, s2 = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # S x N
        rows = np.full((len(combos), 1), size * n_blocks // 2, dtype=float)
        w = member.astype(float)
        is_m = _sharpes_from_sums(rows, w @ s1, w @ s2)
        oos_m = _sharpes_from_sums(rows, (1 - w) @ s1, (1 - w) @ s2)
    else:
        is_m = np.empty((len(combos), n))
        oos_m = np.empty((len(combos), n))
        for c, mask in enumerate(member):
            is_m[c] = metric(blocks[mask].reshape(-1, n))
            oos_m[c] = metric(blocks[~mask].reshape(-1, n))
    best = np.argmax(np.where(np.isnan(is_m), -np.inf, is_m), axis=1)
    rank = _avg_rank_of(oos_m, best)
    w_rel = rank / (n + 1)
    logits = np.log(w_rel / (1 - w_rel))
    idx = np.arange(len(combos))
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        n_combinations=len(combos),
        n_blocks=n_blocks,
        n_trials=n,
        rows_used=size * n_blocks,
        best_in_sample=best,
        is_metric=is_m[idx, best],
        oos_metric=oos_m[idx, best],
        combinations=combos,
    )


@dataclass(frozen=True)
class RunDSR:
    dsr: float
    """P(the true Sharpe of the selected trial exceeds the expected best of N lucky ones)."""
    n_trials: int
    sharpe: float
    """The selected trial's per-period Sharpe."""
    sr_variance: float
    """Variance (ddof 1) of the per-period Sharpes of every trial counted."""
    hurdle: float
    """Expected maximum per-period Sharpe of ``n_trials`` unskilled trials."""


def run_dsr(
    best_returns: Sequence[float] | np.ndarray, sharpes_of_all_trials: Sequence[float]
) -> RunDSR:
    """DSR of the selected trial with N = every trial the run tried.

    ``sharpes_of_all_trials`` are the per-period Sharpes of every trial counted (the
    selected one included; undefined ones, None or NaN, still count toward N but not
    toward the variance). With one trial the DSR is the PSR.
    """
    a = np.asarray(best_returns, dtype=float)
    a = a[np.isfinite(a)]
    n = len(sharpes_of_all_trials)
    if n < 1:
        raise TrialError("run_dsr needs the Sharpe of at least one trial")
    finite = [float(s) for s in sharpes_of_all_trials if s is not None and math.isfinite(s)]
    var = float(np.var(finite, ddof=1)) if len(finite) >= 2 else 0.0
    hurdle = M.expected_max_sharpe(n, var)
    if a.size < 3 or np.std(a, ddof=1) == 0:
        return RunDSR(math.nan, n, math.nan, var, hurdle)
    sr, skew, kurt = M._moments(a)  # the same moments the trial's own DSR uses
    return RunDSR(M.dsr_from_moments(sr, a.size, skew, kurt, n, var), n, sr, var, hurdle)
