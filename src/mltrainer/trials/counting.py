"""Which finished trials a new trial is deflated against, and what the figure is called.

The deflated Sharpe ratio (DSR) corrects a Sharpe ratio for the number of trials N that
were tried before it: the more attempts, the higher the best Sharpe luck alone produces.
By default N counts every finished trial that asked the same question (symbol, label
horizon, bar interval), whatever model it used; a study or a goal scopes the count instead
(see :meth:`mltrainer.trials.store.TrialStore.counted_trials`). With N = 1 there is
nothing to deflate: the figure equals the probabilistic Sharpe ratio and is called PSR.

No pandas or scipy here: the CLI names the figure without loading the engine.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "TrialCount",
    "question",
    "sharpe_probability_name",
    "sharpe_probability_label",
    "metric_label",
]


class TrialCount(NamedTuple):
    """Finished trials counted toward the DSR and their per-period Sharpes (where defined)."""

    n: int
    sharpes: list[float]


def question(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What a trial asks: symbol, label horizon and bar interval (unset = the source's own).

    For a bundled symbol the source's own interval is the catalogue's, so an explicit
    ``1d`` on SPX and an unset interval are the same question.
    """
    symbol, source, interval = spec.get("symbol"), spec.get("source"), spec.get("interval")
    if interval is None and source == "bundled":
        from ..data.bundled import BUNDLED  # loads pandas: only when counting

        entry = BUNDLED.get(str(symbol))
        interval = entry.interval if entry else None
    return symbol, spec.get("horizon"), interval


def sharpe_probability_name(n_trials: int) -> str:
    """``"DSR"`` when more than one trial is counted, else ``"PSR"``."""
    return "DSR" if n_trials > 1 else "PSR"


def sharpe_probability_label(n_trials: int) -> str:
    """The name with N beside it: ``"DSR (N=3 trials)"`` or ``"PSR (N=1 trial)"``."""
    return f"{sharpe_probability_name(n_trials)} (N={n_trials} trial{'' if n_trials == 1 else 's'})"


def metric_label(key: str, n_trials: int) -> str | None:
    """How a metrics table names the row ``key``, or None to leave it out: with N = 1 the
    DSR equals the PSR and is shown once, as ``PSR (N=1 trial)``; with N > 1 the DSR row
    reads ``DSR (N=3 trials)``. Every other key is its own name."""
    named = sharpe_probability_name(n_trials).lower()
    if key == "dsr" and named == "psr":
        return None
    return sharpe_probability_label(n_trials) if key == named else key
