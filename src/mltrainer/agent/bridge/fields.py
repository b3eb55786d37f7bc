"""Reading one mapping of parameters: a tool call's input, a JSON object, a key: value block.

The keys are matched by meaning (``ticker``, ``Symbol``, ``model_type``, ``Prediction
Horizon`` all name a canonical parameter, see :data:`KEY_SYNONYMS`), their values are
checked by the shared readers (:mod:`.readers`), and the request is validated against
the action's schema when one is known. Explicit values are held to a strict standard: an
unknown symbol or model here is always an error with suggestions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .readers import (
    NORMALISERS,
    Invalid,
    Vocabulary,
    check_dates,
    norm_key,
    split_list,
    unique_values,
)

__all__ = [
    "Fields",
    "read_fields",
    "validate",
    "fit_to_schema",
    "canonical_source",
    "TRIAL_ACTIONS",
    "SINGLE_MODEL_ACTIONS",
    "ACTION_ALIASES",
    "ACTION_KEYS",
    "NESTED_KEYS",
    "KEY_SYNONYMS",
    "MODEL_KEYS",
    "SYMBOL_KEYS",
    "TRIAL_PARAM_KEYS",
    "RESULT_KEYS",
    "KV_EXTRA_KEYS",
    "HYPERPARAMS",
    "HYPERPARAM_ALIASES",
]

TRIAL_ACTIONS = frozenset({"train_model", "start_trial", "compare_models"})
SINGLE_MODEL_ACTIONS = frozenset({"train_model", "start_trial"})
ACTION_ALIASES = {
    "train": "train_model",
    "train_model": "train_model",
    "trial": "start_trial",
    "start_trial": "start_trial",
    "run_trial": "start_trial",
    "compare": "compare_models",
    "compare_models": "compare_models",
    "financial": "run_financial",
    "run_financial": "run_financial",
}
ACTION_KEYS = ("action", "tool", "tool_name", "function", "command", "name")
NESTED_KEYS = frozenset(
    {
        "parameters",
        "params",
        "input",
        "arguments",
        "args",
        "config",
        "configuration",
        "trial",
        "trial_config",
        "settings",
        "function",
    }
)

# Spelling of a key (normalised by _norm_key) -> the bridge's canonical parameter name.
KEY_SYNONYMS: dict[str, str] = {
    "symbol": "symbol",
    "ticker": "symbol",
    "asset": "symbol",
    "instrument": "symbol",
    "stock": "symbol",
    "symbols": "symbols",
    "tickers": "symbols",
    "assets": "symbols",
    "model": "model_id",
    "model_id": "model_id",
    "model_name": "model_id",
    "model_type": "model_id",
    "algorithm": "model_id",
    "financial_id": "model_id",
    "financial_model": "model_id",
    "models": "model_ids",
    "model_ids": "model_ids",
    "horizon": "horizon",
    "prediction_horizon": "horizon",
    "forecast_horizon": "horizon",
    "horizon_days": "horizon",
    "start": "start",
    "start_date": "start",
    "end": "end",
    "end_date": "end",
    "date_range": "date_range",
    "dates": "date_range",
    "time_range": "date_range",
    "training_period": "date_range",
    "train_ratio": "train_ratio",
    "training_ratio": "train_ratio",
    "train_split": "train_ratio",
    "train_fraction": "train_ratio",
    "train_size": "train_ratio",
    "lookback": "lookback",
    "look_back": "lookback",
    "lookback_period": "lookback",
    "lookback_window": "lookback",
    "lookback_days": "lookback",
    "epochs": "epochs",
    "epoch": "epochs",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "training_epochs": "epochs",
    "stop_loss": "stop_loss",
    "stoploss": "stop_loss",
    "stop_loss_pct": "stop_loss",
    "stop_loss_percent": "stop_loss",
    "timeframe": "timeframes",
    "timeframes": "timeframes",
    "time_frame": "timeframes",
    "time_frames": "timeframes",
    "learning_rate": "learning_rate",
    "lr": "learning_rate",
    "source": "source",
    "data_source": "source",
    "dataset_source": "source",
    "datasource": "source",
}
MODEL_KEYS = frozenset({"model_id", "model_ids"})
SYMBOL_KEYS = frozenset({"symbol", "symbols"})
TRIAL_PARAM_KEYS = frozenset(
    {
        "horizon",
        "start",
        "end",
        "date_range",
        "train_ratio",
        "lookback",
        "epochs",
        "stop_loss",
        "timeframes",
        "learning_rate",
        "source",
    }
)
# Parameters that are model hyper-parameters: moved into a schema's ``params`` mapping
# when the schema does not declare them itself.
HYPERPARAMS = ("lookback", "epochs", "learning_rate")

# Hyper-parameter names read from replies -> the name some registry models use instead.
HYPERPARAM_ALIASES = {"learning_rate": "lr"}

RESULT_KEYS = frozenset(
    {
        "sharpe",
        "sharpe_ratio",
        "sortino",
        "sortino_ratio",
        "total_return",
        "annual_return",
        "annualized_return",
        "cagr",
        "max_drawdown",
        "drawdown",
        "accuracy",
        "rmse",
        "mae",
        "mse",
        "r2",
        "hit_rate",
        "win_rate",
        "pnl",
        "metrics",
        "results",
    }
)
# Lines kept in a key: value block besides parameters: actions, and result keys (which mark
# the block as a report).
KV_EXTRA_KEYS = RESULT_KEYS | {"action", "tool"}
_PERCENT_KEY_RE = re.compile(r"%|pct|percent", re.I)


@dataclass
class Fields:
    """The interpreted keys of one mapping (tool input, JSON object, key/value block)."""

    models: list[str] = field(default_factory=list)
    financial: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # canonical name -> value
    values: dict[str, Any] = field(default_factory=dict)  # original key -> value
    extras: dict[str, Any] = field(default_factory=dict)  # keys the bridge does not read
    canon: set[str] = field(default_factory=set)
    errors: list[Invalid] = field(default_factory=list)


def read_fields(
    vocab: Vocabulary, raw: Mapping[str, Any], cache: dict[str, str | None], *, financial: bool
) -> Fields:
    """Every key of ``raw`` read; problems collected in ``Fields.errors``, not raised."""
    fields = Fields()
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        canon = KEY_SYNONYMS.get(norm_key(key))
        if canon is None or canon in fields.canon:
            if canon is None:
                fields.extras[key] = value
            continue
        fields.canon.add(canon)
        try:
            fields.values[key] = _read_value(vocab, canon, key, value, fields, cache, financial)
        except Invalid as exc:
            fields.errors.append(exc)
    if "date_range" in fields.params:
        span = fields.params.pop("date_range")
        for k in ("start", "end"):
            if k in span:
                fields.params.setdefault(k, span[k])
    try:
        check_dates(fields.params)
    except Invalid as exc:
        fields.errors.append(exc)
    return fields


def _read_value(
    vocab: Vocabulary,
    canon: str,
    key: str,
    value: Any,
    fields: Fields,
    cache: dict[str, str | None],
    financial: bool,
) -> Any:
    if canon == "symbol" and not isinstance(value, (list, tuple)):
        try:
            symbol = vocab.explicit_symbol(value, cache)
        except Invalid:
            if len(split_list(value)) < 2:
                raise
        else:
            fields.symbols.append(symbol)
            return symbol
    if canon in SYMBOL_KEYS:
        out = [vocab.explicit_symbol(v, cache) for v in split_list(value)]
        fields.symbols.extend(s for s in out if s not in fields.symbols)
        return out
    if canon in MODEL_KEYS:
        single = canon == "model_id" and not isinstance(value, (list, tuple))
        names = vocab.explicit_models(value, single=single, financial=financial)
        for kind, mid in names:
            target = fields.financial if kind == "financial" else fields.models
            if mid not in target:
                target.append(mid)
        ids = [mid for _kind, mid in names]
        return ids[0] if single and len(ids) == 1 else ids
    percent_key = canon in ("train_ratio", "stop_loss") and _PERCENT_KEY_RE.search(key)
    if percent_key and isinstance(value, (int, float, str)) and "%" not in str(value):
        value = f"{value}%"
    normalised = NORMALISERS[canon](value)
    fields.params[canon] = normalised
    return normalised


def canonical_source(params: dict[str, Any]) -> dict[str, Any]:
    """Spellings of the source key (data_source, dataset_source...) as ``source``; two
    different sources in one request are an error, not a silent choice."""
    found = {k: v for k, v in params.items() if KEY_SYNONYMS.get(norm_key(k)) == "source"}
    if not found or list(found) == ["source"]:
        return params
    values = unique_values(found.values())
    if len(values) > 1:
        shown = ", ".join(f"{k}={v!r}" for k, v in found.items())
        raise Invalid(f"conflicting data sources: {shown}; name one source")
    out = {k: v for k, v in params.items() if k not in found}
    out["source"] = values[0]
    return out


def fit_to_schema(schema: type[BaseModel], params: dict[str, Any]) -> dict[str, Any]:
    """Move hyper-parameters (and a source) the schema does not declare into its
    ``params`` mapping."""
    declared = getattr(schema, "model_fields", {})
    if "params" not in declared:
        return params
    # A source the action does not take itself still reaches the compliance gateway,
    # which checks sources nested in ``params`` too.
    hyper = (*HYPERPARAMS, "source")
    moved = {k: params[k] for k in hyper if k in params and k not in declared}
    if not moved:
        return params
    out = {k: v for k, v in params.items() if k not in moved}
    inner = out.get("params")
    out["params"] = {**moved, **(inner if isinstance(inner, Mapping) else {})}
    return out


def validate(
    action: str, params: dict[str, Any], schemas: Mapping[str, type[BaseModel]]
) -> tuple[dict[str, Any], list[str]]:
    """``params`` checked by the action's schema (when there is one); (params, problems)."""
    try:
        params = canonical_source(params)
    except Invalid as exc:
        return params, [f"{action}: {exc.message}"]
    schema = schemas.get(action)
    if schema is None:
        return params, []
    params = fit_to_schema(schema, params)
    try:
        model = schema.model_validate(params)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ())) or "params"
            if e.get("type") == "extra_forbidden":
                problems.append(f"{action} does not take a '{where}' parameter")
            else:
                problems.append(f"{action}: {where}: {e.get('msg', 'invalid')}")
        return params, problems
    return model.model_dump(mode="json", exclude_unset=True), []
