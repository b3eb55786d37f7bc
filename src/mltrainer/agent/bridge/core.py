"""The :class:`Bridge`: a reply in, validated action requests out, tier by tier."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ..plans import Plan, PlanStep, describe_step, step_horizon
from .fields import (
    ACTION_ALIASES,
    ACTION_KEYS,
    HYPERPARAM_ALIASES,
    HYPERPARAMS,
    KEY_SYNONYMS,
    MODEL_KEYS,
    RESULT_KEYS,
    SINGLE_MODEL_ACTIONS,
    SYMBOL_KEYS,
    TRIAL_ACTIONS,
    TRIAL_PARAM_KEYS,
    Fields,
    read_fields,
    validate,
)
from .json_blocks import flatten, scan_json
from .key_value import kv_blocks
from .prose import Prose, from_prose, mask_code_fences, read_prose
from .readers import Invalid, Vocabulary, fragment, hint, norm_id, norm_key, unique
from .results import KNOWN_ACTIONS, ActionRequest, BridgeError, ParseResult
from .tool_calls import ToolCallBlock, from_tool_call, split_response

__all__ = ["Bridge"]


class Bridge:
    """Parse language-model replies into :class:`ActionRequest` objects; never executes."""

    def __init__(
        self,
        model_ids: Iterable[str],
        resolve_symbol: Callable[[str], str | None],
        financial_ids: Iterable[str] = (),
        tool_schemas: Mapping[str, type[BaseModel]] | None = None,
        *,
        known_symbols: Iterable[str] = (),
        model_params: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``known_symbols`` only feeds "did you mean" suggestions for unknown symbols;
        ``model_params`` (model id -> its parameter names) lets plan steps keep only the
        hyper-parameters each model takes."""
        self._model_params = {k: frozenset(v) for k, v in (model_params or {}).items()}
        self.vocab = Vocabulary(
            model_ids, resolve_symbol, financial_ids, known_symbols=known_symbols
        )
        """The shared readers (symbols, models) this bridge reads with; the offline
        planner reads the user's messages with the same one."""
        self.schemas: dict[str, type[BaseModel]] = dict(tool_schemas or {})
        self.actions = unique([*KNOWN_ACTIONS, *self.schemas])

    @property
    def model_ids(self) -> list[str]:
        return list(self.vocab.models.ids)

    @property
    def model_params(self) -> dict[str, frozenset[str]]:
        """Model id -> the parameter names it takes (as given to the constructor)."""
        return dict(self._model_params)

    def resolve_symbol(self, text: str) -> str | None:
        """The catalogue symbol for ``text``, or None; resolver errors count as unknown."""
        return self.vocab.resolve_symbol(text)

    def resolve_model(self, text: str) -> str | None:
        """The registry id for ``text`` (exact, normalised, alias, near-certain typo)."""
        return self.vocab.resolve_model(text)

    # -- entry point ----------------------------------------------------------------------------
    def parse(self, response: Any) -> ParseResult:
        texts, calls, errors = split_response(response)
        text = "\n\n".join(t for t in texts if t)
        cache: dict[str, str | None] = {}
        actions: list[ActionRequest] = []
        plans: list[Plan] = []
        if calls:
            for call in calls:
                got, errs = from_tool_call(self, call, cache)
                actions += got
                errors += errs
        elif text.strip():
            got, errs = self._from_text(text, cache, plans)
            actions += got
            errors += errs
        return ParseResult(
            actions=_dedupe_actions(actions),
            errors=_dedupe_errors(errors),
            text=text,
            plans=plans,
        )

    def parse_tool_call(self, name: str, arguments: Any, call_id: str | None = None) -> ParseResult:
        """One tool call checked as if a model had made it (the offline planner's calls)."""
        got, errors = from_tool_call(self, ToolCallBlock(call_id, name, arguments), {})
        return ParseResult(actions=got, errors=errors)

    # -- tiers 2-4: text -------------------------------------------------------------------------
    def _from_text(
        self, text: str, cache: dict[str, str | None], plans: list[Plan]
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        scan = scan_json(text)
        masked = mask_code_fences(scan.masked)
        prose_cache: list[Prose] = []

        def prose() -> Prose:
            if not prose_cache:
                prose_cache.append(read_prose(self, masked, cache))
            return prose_cache[0]

        actions: list[ActionRequest] = []
        errors: list[BridgeError] = list(scan.problems)
        for finding in scan.findings:
            objects = finding.value if isinstance(finding.value, list) else [finding.value]
            for obj in objects:
                if isinstance(obj, Mapping):
                    got, errs = self._from_mapping(
                        obj, "json", finding.fragment, finding.labelled, prose, cache, plans
                    )
                    actions += got
                    errors += errs
        if actions or errors or plans:
            return actions, errors

        for block in kv_blocks(masked):
            mapping = {key: value for key, value, _line in block}
            shown = fragment("\n".join(line for _k, _v, line in block))
            got, errs = self._from_mapping(mapping, "key_value", shown, False, prose, cache, plans)
            actions += got
            errors += errs
        if actions or errors or plans:
            return actions, errors

        return from_prose(self, prose(), plans)

    # -- structured mappings (JSON objects, key/value blocks) -------------------------------------
    def _from_mapping(
        self,
        obj: Mapping[str, Any],
        origin: str,
        shown: str,
        labelled: bool,
        prose: Callable[[], Prose],
        cache: dict[str, str | None],
        plans: list[Plan] | None = None,
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        def err(message: str, suggestions: Sequence[str] = ()) -> BridgeError:
            return BridgeError(
                message=message, suggestions=list(suggestions), origin=origin, fragment=shown
            )

        flat = flatten(obj)
        if any(norm_key(k) in RESULT_KEYS for k in flat):
            return [], []  # a report of results, not a request
        action, action_problem = self._explicit_action(flat)
        keys = {KEY_SYNONYMS.get(norm_key(k)) for k in flat}
        relevant = (
            action is not None
            or bool(keys & MODEL_KEYS)
            or bool(keys & SYMBOL_KEYS and keys & TRIAL_PARAM_KEYS)
            or (labelled and bool(keys & (SYMBOL_KEYS | TRIAL_PARAM_KEYS)))
        )
        if not relevant and not (action_problem and keys & (MODEL_KEYS | SYMBOL_KEYS)):
            return [], []
        if action_problem:
            return [], [err(action_problem.message, action_problem.suggestions)]
        body = {k: v for k, v in flat.items() if norm_key(k) not in ACTION_KEYS}
        fields = read_fields(self.vocab, body, cache, financial=action == "run_financial")
        errors = [err(e.message, e.suggestions) for e in fields.errors]
        if errors:
            return [], errors

        if action is None or action in TRIAL_ACTIONS:
            return self._assemble_trial(action, fields, origin, shown, prose, plans)
        if action == "run_financial":
            params = dict(fields.extras)
            if fields.financial or fields.models:
                params["model_id"] = (fields.financial or fields.models)[0]
            if fields.symbols:
                params["symbol"] = fields.symbols[0]
            params.update(fields.params)
        else:
            params = {**fields.extras, **fields.params}
            if fields.symbols:
                params["symbol"] = fields.symbols[0]
            if fields.models:
                params["model_id"] = fields.models[0]
        return self.finish(action, params, origin, shown)

    def _explicit_action(self, flat: Mapping[str, Any]) -> tuple[str | None, Invalid | None]:
        for key, value in flat.items():
            nk = norm_key(key)
            if nk not in ACTION_KEYS or not isinstance(value, str):
                continue
            name = norm_id(value)
            if value in self.actions:
                return value, None
            if name in self.actions:
                return name, None
            if name in ACTION_ALIASES:
                return ACTION_ALIASES[name], None
            if nk == "name":
                continue  # "name" is only an action when it names one
            close = difflib.get_close_matches(name, self.actions, n=3, cutoff=0.5)
            return None, Invalid(f"unknown action '{value}'{hint(close)}", close)
        return None, None

    def _assemble_trial(
        self,
        action: str | None,
        fields: Fields,
        origin: str,
        shown: str,
        prose: Callable[[], Prose],
        plans: list[Plan] | None = None,
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        def err(message: str, suggestions: Sequence[str] = ()) -> BridgeError:
            return BridgeError(
                message=message, suggestions=list(suggestions), origin=origin, fragment=shown
            )

        models, symbols = list(fields.models), list(fields.symbols)
        if fields.financial:
            if models or action in TRIAL_ACTIONS:
                names = ", ".join(fields.financial)
                return [], [
                    err(f"{names} is a financial model, not a trainable one; use run_financial")
                ]
            financial: dict[str, Any] = {"model_id": fields.financial[0], **fields.params}
            if symbols:
                financial["symbol"] = symbols[0]
            return self.finish("run_financial", financial, origin, shown)
        if not models and "model_id" not in fields.canon and "model_ids" not in fields.canon:
            reading = prose()
            if reading.models and not reading.model_problem and len(reading.models) == 1:
                models = list(reading.models)
        if not symbols and not fields.canon & SYMBOL_KEYS:
            reading = prose()
            if reading.symbol:
                symbols = [reading.symbol]
        if action is None:
            action = "compare_models" if len(models) >= 2 else "train_model"
        errors: list[BridgeError] = []
        if not models:
            where = f" for the trial on {', '.join(symbols)}" if symbols else ""
            head = self.vocab.models.ids[:5]
            errors.append(err(f"no model named{where}; say which model to train", head))
        elif action in SINGLE_MODEL_ACTIONS and len(models) > 1:
            errors.append(
                err(
                    f"{action} takes one model, got {', '.join(models)}; use compare_models", models
                )
            )
        elif action == "compare_models" and len(models) < 2:
            errors.append(err("compare_models needs at least two models", models))
        if not symbols:
            some = self.vocab.known_symbols[:5]
            errors.append(err("no symbol named; say which symbol to use (e.g. Symbol: SPX)", some))
        if errors:
            return [], errors
        if plans is not None and action != "compare_models" and self._needs_plan(fields.params):
            # A legacy trial config with timeframes: a step per timeframe (see plans.py).
            for symbol in symbols:
                pairs = [(models[0], list(fields.params["timeframes"]))]
                plan, errs = self.plan(pairs, symbol, fields.params, origin)
                plans += [plan] if plan is not None else []
                errors += errs
            return [], errors
        actions: list[ActionRequest] = []
        for symbol in symbols:
            if action == "compare_models":
                params: dict[str, Any] = {"model_ids": models, "symbol": symbol}
            else:
                params = {"model_id": models[0], "symbol": symbol}
            params.update(fields.params)
            got, errs = self.finish(action, params, origin, shown)
            actions += got
            errors += errs
        return actions, errors

    def finish(
        self, action: str, params: dict[str, Any], origin: str, shown: str | None
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        """Validate one request; the request, or its problems as errors."""
        validated, problems = validate(action, params, self.schemas)
        if problems:
            return [], [BridgeError(message=p, origin=origin, fragment=shown) for p in problems]
        return [ActionRequest(action=action, params=validated, origin=origin)], []

    # -- plans ------------------------------------------------------------------------------------
    def _needs_plan(self, params: Mapping[str, Any]) -> bool:
        """Timeframes that train_model cannot take as they are (it takes one horizon)."""
        schema = self.schemas.get("train_model")
        return (
            bool(params.get("timeframes"))
            and schema is not None
            and "timeframes" not in schema.model_fields
        )

    def plan(
        self,
        pairs: list[tuple[str, list[dict[str, Any]]]],
        symbol: str,
        settings: Mapping[str, Any],
        origin: str = "prose",
    ) -> tuple[Plan | None, list[BridgeError]]:
        """One train_model step per (model, timeframe), settings carried into each step."""
        shared = {k: v for k, v in settings.items() if k not in ("timeframes", "horizon")}
        explicit = settings.get("horizon")
        plan = Plan(origin=origin)
        errors: list[BridgeError] = []
        for mid, frames in pairs:
            for tf in frames:
                horizon, how = step_horizon(tf, explicit)
                params = self._plan_params(
                    mid, {"model_id": mid, "symbol": symbol, "horizon": horizon, **shared}, plan
                )
                validated, problems = validate("train_model", params, self.schemas)
                errors += [BridgeError(message=p, origin=origin) for p in problems]
                plan.steps.append(
                    PlanStep(
                        action="train_model",
                        params=validated,
                        description=describe_step(validated, how),
                        timeframe=tf,
                    )
                )
        return (None if errors else plan), errors

    def _plan_params(self, mid: str, params: dict[str, Any], plan: Plan) -> dict[str, Any]:
        """Keep what the action and the model take; the rest goes to ``plan.not_applied``."""
        schema = self.schemas.get("train_model")
        if schema is None:
            return params
        declared = schema.model_fields
        takes = self._model_params.get(mid)
        out: dict[str, Any] = {}
        for key, value in params.items():
            if key in HYPERPARAMS and key not in declared:
                name = key
                if takes is not None and key not in takes:
                    name = HYPERPARAM_ALIASES.get(key, key)
                if "params" in declared and (takes is None or name in takes):
                    out.setdefault("params", {})[name] = value
                else:
                    plan.not_applied[key] = value
                    plan.notes.append(f"{mid} has no parameter '{key}'; it is not applied there.")
            elif key in declared or key == "source":
                out[key] = value
            else:
                plan.not_applied[key] = value
        return out


def _dedupe_actions(actions: list[ActionRequest]) -> list[ActionRequest]:
    seen: set[str] = set()
    out = []
    for a in actions:
        key = json.dumps([a.action, a.params, a.tool_use_id], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _dedupe_errors(errors: list[BridgeError]) -> list[BridgeError]:
    seen: set[str] = set()
    out = []
    for e in errors:
        key = json.dumps([e.message, e.origin, e.tool_use_id], default=str)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
