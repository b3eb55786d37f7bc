"""Model specifications and the estimator contract every registry model obeys.

A :class:`ModelSpec` is frozen data: id, family, task, library, factory, defaults, search
space and a one-line description. Nothing is subclassed per model; a family module builds
a list of specs and :mod:`mltrainer.models.registry` collects them.

Estimator contract (what ``spec.build(**params)`` returns), modelled on scikit-learn:

* ``fit(X: DataFrame, y: Series) -> self`` and ``predict(X: DataFrame) -> ndarray`` (1-D
  float, one value per row of ``X``).
* ``X`` depends on ``spec.inputs``: ``"features"`` is the numeric feature matrix of the trial
  (see :mod:`mltrainer.features`); ``"prices"`` is the price frame (``close`` and, where the
  source has them, ``open high low volume``) plus ``ret_1``, the simple one-bar return
  (0 on the first row).
* ``y`` is the label at each training row: the forward simple return over the horizon for
  regression/forecast/volatility/strategy tasks, and its sign as ``{0, 1}`` (1 = up) for
  classification.
* What ``predict`` means depends on ``spec.task``:

  - ``regression`` / ``forecast``: expected forward return over the horizon (the sign is
    the direction);
  - ``classification``: probability that the forward return is positive, in [0, 1];
  - ``volatility``: forecast volatility of one bar's return (a standard deviation, > 0);
  - ``strategy``: the target position itself, in [-1, 1].

* ``sequential=True`` means a prediction at a row depends on earlier rows (filters, rules,
  recurrent nets). The engine then calls ``predict`` on every row from the start of the
  training window to the end of the test fold and keeps the test rows; the estimator must
  use only rows ``<= t`` for the prediction at ``t``. Row-wise models get the test rows only.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ModelError

__all__ = ["ModelSpec", "Task", "Inputs", "TASKS"]

Task = Literal[
    "regression",
    "classification",
    "volatility",
    "forecast",
    "strategy",
    "portfolio",
    "pricing",
    "risk",
]
TASKS: tuple[str, ...] = Task.__args__  # type: ignore[attr-defined]
Inputs = Literal["features", "prices"]


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry. ``ModelSpec(id="ridge", family="linear", task="regression", ...)``."""

    id: str
    family: str
    task: Task
    library: str
    factory: Callable[..., Any]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    search_space: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    inputs: Inputs = "features"
    sequential: bool = False
    extra: str | None = None
    """Optional install extra this model needs (``"deep"`` for torch models)."""
    requires: tuple[str, ...] = ()
    """Importable modules needed at run time; missing ones make the model unavailable."""
    fold_threads: bool = False
    """Its fits run in native code that releases the GIL, with threads set by a
    parameter (``n_jobs``, ``thread_count``): the engine then fits parallel folds on
    threads of the trial's process, which start in microseconds and share its data,
    instead of worker processes that take about 2 s to start (measured per library in
    benchmarks/README.md)."""
    former_defaults: Mapping[str, Any] = field(default_factory=dict)
    """The values trials stored before results recorded their resolved parameters
    (``TrialResult.model_params``) ran with, for the defaults changed since. A replay of
    such a trial fits with them (``params(former=True)``), so making a default cheaper never
    changes what an old trial replays to."""

    def __post_init__(self) -> None:
        if not self.id.replace("_", "").isalnum() or self.id != self.id.lower():
            raise ValueError(f"model id '{self.id}' must be snake_case")
        if self.task not in TASKS:
            raise ValueError(f"model {self.id}: unknown task {self.task}")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "search_space", MappingProxyType(dict(self.search_space)))
        object.__setattr__(self, "former_defaults", MappingProxyType(dict(self.former_defaults)))
        for k in self.former_defaults:
            if k not in self.defaults:
                raise ValueError(f"model {self.id}: former default '{k}' is not a parameter")
        for k in self.search_space:
            if k not in self.defaults:
                raise ValueError(f"model {self.id}: search-space key '{k}' has no default")

    @property
    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    @property
    def install_hint(self) -> str | None:
        if self.available:
            return None
        extra = self.extra or "all"
        return f"pip install 'mltrainer[{extra}]' (needs {', '.join(self.requires)})"

    def params(
        self, overrides: Mapping[str, Any] | None = None, *, former: bool = False
    ) -> dict[str, Any]:
        """Defaults updated by ``overrides``; an unknown name raises :class:`ModelError`.
        ``former``: start from the defaults of trials stored before parameters were
        recorded (see :attr:`former_defaults`)."""
        out = dict(self.defaults)
        if former:
            out.update(self.former_defaults)
        for k, v in (overrides or {}).items():
            if k not in self.defaults:
                close = difflib.get_close_matches(k, list(self.defaults), n=3)
                valid = ", ".join(sorted(self.defaults)) or "(none)"
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ModelError(f"model '{self.id}' has no parameter '{k}'; {hint}valid: {valid}")
            out[k] = v
        return out

    def recorded(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as a stored result recorded them, in the types the defaults use: JSON
        gave tuples (layer sizes, ARIMA orders) back as lists. Names are checked as in
        :meth:`params`; a parameter added since keeps its default."""
        return self.params({k: _like(v, self.defaults.get(k)) for k, v in stored.items()})

    def build(self, **overrides: Any) -> Any:
        """A fresh, unfitted estimator with defaults updated by ``overrides``."""
        if not self.available:
            raise ModelError(f"model '{self.id}' is unavailable: {self.install_hint}")
        params = self.params(overrides)
        try:
            return self.factory(**params)
        except (TypeError, ValueError) as e:
            raise ModelError(f"model '{self.id}' rejected its parameters {params}: {e}") from e

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "task": self.task,
            "library": self.library,
            "description": self.description,
            "inputs": self.inputs,
            "sequential": self.sequential,
            "defaults": dict(self.defaults),
            "search_space": {k: list(v) for k, v in self.search_space.items()},
            "available": self.available,
            "install_hint": self.install_hint,
        }


def _like(value: Any, default: Any) -> Any:
    """``value`` read back from JSON, as a tuple again where the default is one."""
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(
            _like(v, default[i] if i < len(default) else None) for i, v in enumerate(value)
        )
    return value
