"""``FINANCIAL[id] -> FinancialSpec`` and :func:`run_financial`, the one way to run them.

``run_financial`` validates parameters with the spec's pydantic model, runs it, and returns a
JSON-safe dict: the model's results plus ``"model"``, ``"params"`` (the validated values,
defaults included) and ``"notes"``. Any value that came out NaN or infinite is ``None`` with
a note naming it.

Example::

    from mltrainer.data.bundled import BundledSource
    fetch = lambda s, a, b: BundledSource().fetch(s, start=a, end=b)
    run_financial("black_scholes", fetch, spot=100, strike=100, rate=0.05, volatility=0.2)
    # {"price": 10.4506..., "delta": 0.6368..., ...}
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from ..errors import MLTrainerError, ModelError, NotFound, describe_validation_error
from . import factors, portfolio, pricing, risk
from .base import Fetch, FinancialSpec, to_jsonable

__all__ = ["FINANCIAL", "run_financial", "suggest", "validate_params"]


def _build() -> dict[str, FinancialSpec[Any]]:
    out: dict[str, FinancialSpec[Any]] = {}
    for module in (pricing, portfolio, risk, factors):
        for spec in module.SPECS:
            if spec.id in out:
                raise ValueError(f"duplicate financial model id '{spec.id}'")
            out[spec.id] = spec
    return out


FINANCIAL: dict[str, FinancialSpec[Any]] = _build()


def suggest(text: str, n: int = 3) -> list[str]:
    """Close ids for a mistyped one: ``suggest("black-scholes") -> ["black_scholes"]``."""
    key = str(text).strip().lower().replace("-", "_").replace(" ", "_")
    return difflib.get_close_matches(key, list(FINANCIAL), n=n, cutoff=0.5)


def _validation_message(model_id: str, err: ValidationError) -> str:
    return describe_validation_error(err, prefix=f"invalid parameters for '{model_id}'")


def _accepted_names(model: type[BaseModel]) -> set[str]:
    """Field names plus their declared aliases (``horizon_days`` for ``horizon_bars``)."""
    names = set(model.model_fields)
    for f in model.model_fields.values():
        alias = f.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str))
    return names


def _validate(spec: FinancialSpec[Any], params: dict[str, Any]) -> Any:
    fields = spec.params.model_fields
    accepted = _accepted_names(spec.params)
    for name in params:
        if name not in accepted:
            close = difflib.get_close_matches(name, list(fields), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ModelError(
                f"financial model '{spec.id}' has no parameter '{name}'; {hint}"
                f"valid: {', '.join(fields)}"
            )
    try:
        return spec.params.model_validate(params)
    except ValidationError as e:
        raise ModelError(_validation_message(spec.id, e)) from e


def validate_params(model_id: str, params: dict[str, Any]) -> tuple[FinancialSpec[Any], Any]:
    """The spec and validated parameters of ``model_id``; NotFound or ModelError naming
    the bad id or value. Callers check input here before anything is audited or run."""
    spec = FINANCIAL.get(model_id)
    if spec is None:
        close = suggest(model_id)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; available: {', '.join(sorted(FINANCIAL))}"
        )
        raise NotFound(f"unknown financial model '{model_id}'{hint}")
    return spec, _validate(spec, params)


def run_financial(model_id: str, fetch: Fetch, **params: Any) -> dict:
    """Run financial model ``model_id`` with ``params``; return a JSON-serialisable dict.

    Raises :class:`NotFound` for an unknown id (with close matches), :class:`ModelError` for
    bad parameters or a failed computation, and lets :class:`DataError` and other
    mlTrainer errors from ``fetch`` through unchanged.
    """
    spec, validated = validate_params(model_id, params)
    try:
        raw = spec.run(validated, fetch)
    except MLTrainerError:
        raise
    except Exception as e:  # library failures (solver, linear algebra, scipy) become ModelError
        raise ModelError(f"financial model '{model_id}' failed: {type(e).__name__}: {e}") from e
    notes = list(raw.pop("notes", []) or [])
    undefined: list[str] = []
    result = to_jsonable(raw, "", undefined)
    for path in undefined:
        leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
        if not any(leaf in n for n in notes):
            notes.append(f"{path} is undefined for these inputs (the computation gave NaN)")
    return {
        "model": spec.id,
        "category": spec.category,
        "task": spec.task,
        **result,
        "params": validated.model_dump(mode="json"),
        "notes": notes,
    }
