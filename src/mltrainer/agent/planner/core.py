"""The offline planner's understanding: a message in, tool calls or one short question out.

:meth:`Planner.understand` tags the message (:mod:`.entities`), asks the intent classifier
(:mod:`.intents`) which capability it wants, reads that capability's slots
(:mod:`.slots`, :mod:`.finance`) and plans the tool calls. It acts only when it is sure:

* a low-confidence intent, or two intents close together, becomes a question naming the
  choices it considered ("Did you mean: train ridge on PEP ..., or compare ...?");
* a missing or ambiguous slot becomes a question about that slot ("Which symbol: AAPL or
  MSFT?"), and a near miss says so ("unknown symbol 'APPL', did you mean AAPL?");
* an action guessed with only moderate confidence (below :data:`CONFIRM`, or
  :data:`CONFIRM_COSTLY` for a trial, a comparison, a tuning study or a search) is
  proposed, not run: "Did you mean: train ridge on PEP from 2010-01-01 to 2020-12-31 with
  a 10-bar horizon? Say yes to run it."

Every question carries the calls a "yes" (or a choice) would run, so the conversation can
go on from the answer. The planner never writes a number of its own: its questions repeat
only what the message said, and replies are written from tool results elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..bridge.readers import Vocabulary
from .entities import Tagged, Tagger
from .finance import READERS as FINANCIAL_READERS
from .finance import financial_slots
from .intents import INTENTS, IntentClassifier, IntentGuess
from .slots import (
    Problem,
    Slots,
    goal_text,
    list_models_slots,
    list_symbols_slots,
    list_trials_slots,
    memory_query,
    research_slots,
    run_id_slots,
    symbol_slots,
    trial_id_slots,
    trial_slots,
)

if TYPE_CHECKING:
    from ..bridge import Bridge

__all__ = [
    "Call",
    "Understanding",
    "Planner",
    "Context",
    "ACT",
    "CONFIRM",
    "CONFIRM_COSTLY",
    "bundled_planner",
]

ACT = 0.5
"""Below this confidence the planner asks which capability was meant."""
CONFIRM = 0.7
"""Below this confidence an action is proposed and waits for a yes."""
CONFIRM_COSTLY = 0.8
"""The same for a costly action (a trial, a comparison, a tuning study, a search)."""
MARGIN = 0.15
"""A runner-up closer than this to the best guess makes the planner ask between them."""

_COSTLY = frozenset({"train", "compare", "tune", "start_research"})
_TRIAL_FIELDS = (
    "horizon",
    "start",
    "end",
    "commission_bps",
    "slippage_bps",
    "position_rule",
    "window",
    "window_size",
    "refit_every",
    "max_folds",
    "feature_set",
    "execution_delay",
    "source",
)
_HYPER = ("lookback", "epochs", "learning_rate")
_NOT_TRIAL = {
    "train_ratio": "walk-forward trials refit on a rolling or expanding window instead of one "
    "train/test split",
    "stop_loss": "the trial's position rules (sign, threshold, long_only, vol_target) have no "
    "stop-loss",
}
_INFO_ONLY = frozenset({"help", "refuse", "other"})


@dataclass
class Call:
    """One planned tool call."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What the planner knows from the conversation so far."""

    tools: frozenset[str] | None = None
    """The tools the provider was offered (None: assume all)."""
    last_run: str | None = None
    trials: list[str] = field(default_factory=list)
    """Trial ids seen in tool results, oldest first."""


@dataclass
class Understanding:
    """What the planner made of one message."""

    text: str
    intent: str
    confidence: float
    ranked: list[tuple[str, float]]
    slots: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    question: str | None = None
    """One short question; when set, nothing runs until it is answered."""
    options: list[list[Call]] = field(default_factory=list)
    """What each answer to the question would run (a "yes" runs the first)."""
    missing: str | None = None
    """The slot the question asks about, when it asks about one."""
    yes_runs: bool = False
    """A "yes" to the question runs ``options[0]`` (a confirmation or a suggested name)."""
    reply: str | None = None
    """Something to say instead of acting (help, refusal, not understood, not available)."""
    needs_data_range: list[str] = field(default_factory=list)
    """Symbols whose last date the calls need first ("the last five years of data")."""
    last: tuple[float, str] | None = None
    notes: list[str] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)
    """How to narrow the reply to what was asked (a topic, some symbols, a family)."""

    @property
    def acts(self) -> bool:
        return bool(self.calls) and self.question is None and self.reply is None


class Planner:
    """Understands a user's message with a real, small, deterministic model.

    ``vocab`` is the bridge's vocabulary (registry models, financial models, the catalogue's
    symbol resolver); ``aliases`` the catalogue's alias table ("APPLE" -> AAPL);
    ``model_params`` each model's parameter names; ``bridge`` (optional) validates every
    planned call against the tool schemas before it is proposed.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        *,
        aliases: Mapping[str, str] | None = None,
        model_params: Mapping[str, Iterable[str]] | None = None,
        bridge: Bridge | None = None,
        classifier: IntentClassifier | None = None,
    ) -> None:
        self.vocab = vocab
        self.tagger = Tagger(vocab, aliases or {}, model_params)
        self.classifier = classifier or shared_classifier(self.tagger)
        self.bridge = bridge

    @classmethod
    def for_bridge(cls, bridge: Bridge) -> Planner:
        """A planner that reads with ``bridge``'s vocabulary, the catalogue's aliases and the
        bundled symbols (for "did you mean"), and validates with its schemas."""
        from ...data.bundled import BUNDLED
        from ...data.service import ALIASES

        vocab = bridge.vocab.with_known_symbols(BUNDLED)
        return cls(vocab, aliases=ALIASES, model_params=bridge.model_params, bridge=bridge)

    # -- entry point ------------------------------------------------------------------------
    def understand(self, text: str, context: Context | None = None) -> Understanding:
        ctx = context or Context()
        tagged = self.tagger.tag(text)
        guess = self.classifier.guess(Tagger.features(tagged), prepared=True)
        u = self._decide(tagged, guess, ctx)
        return u

    def _decide(self, t: Tagged, guess: IntentGuess, ctx: Context) -> Understanding:
        intent, conf = guess.intent, guess.confidence
        u = Understanding(t.text, intent, conf, list(guess.ranked[:3]))
        if intent in _INFO_ONLY and (conf >= ACT or intent == "other"):
            u.reply = intent
            return u
        slots = self.read_slots(intent, t, ctx)
        u.slots = slots.values
        u.notes = slots.notes
        if conf < ACT or guess.margin < MARGIN:
            second = guess.ranked[1][0] if len(guess.ranked) > 1 else None
            return self._ask_between(u, t, ctx, slots, second)
        bar = CONFIRM_COSTLY if intent in _COSTLY else CONFIRM
        return self._plan(u, slots, ctx, confirm=conf < bar)

    # -- slots ------------------------------------------------------------------------------
    def read_slots(self, intent: str, t: Tagged, ctx: Context) -> Slots:
        if intent in ("train", "compare", "tune"):
            s = trial_slots(t, intent=intent)
            if intent == "tune":
                _tune_extras(t, s)
            return s
        if intent in FINANCIAL_READERS:
            return financial_slots(intent, t)
        if intent == "list_models":
            return list_models_slots(t)
        if intent == "list_symbols":
            return list_symbols_slots(t)
        if intent == "list_trials":
            return list_trials_slots(t)
        if intent == "show_trial":
            return trial_id_slots(t, ctx.trials)
        if intent == "data_summary":
            s = Slots()
            symbol_slots(t, s)
            if t.dates.start:
                s.values["start"] = t.dates.start
            if t.dates.end:
                s.values["end"] = t.dates.end
            return s
        if intent == "set_goal":
            return goal_text(t.text)
        if intent == "search_memory":
            return memory_query(t.text)
        if intent == "start_research":
            return research_slots(t)
        if intent in ("run_status", "cancel_run"):
            s = run_id_slots(t, ctx.last_run)
            if intent == "cancel_run" and "run_id" not in s.values:
                s.problems.append(
                    Problem("run_id", "Which run should I cancel? Give its id (run_...).")
                )
            return s
        return Slots()

    # -- calls ------------------------------------------------------------------------------
    def calls_for(self, intent: str, values: Mapping[str, Any]) -> tuple[list[Call], list[str]]:
        """The tool calls for ``intent`` with slot ``values``; (calls, problems)."""
        v = dict(values)
        if intent in ("train", "compare", "tune"):
            args: dict[str, Any] = {k: v[k] for k in _TRIAL_FIELDS if k in v}
            if intent == "compare":
                args = {"model_ids": v["model_ids"], "symbol": v["symbol"], **args}
                name = "compare_models"
            else:
                args = {"model_id": v["model_id"], "symbol": v["symbol"], **args}
                params = dict(v.get("params") or {})
                for key in _HYPER:
                    if key in v:
                        params[key] = v[key]
                if params:
                    args["params"] = params
                name = (
                    "tune_model"
                    if intent == "tune"
                    else ("start_trial" if v.get("background") else "train_model")
                )
                if intent == "tune":
                    for key in ("n_trials", "metric", "study"):
                        if key in v:
                            args[key] = v[key]
            problems = [f"{k}: {why}" for k, why in _NOT_TRIAL.items() if k in v]
            return [Call(name, args)], problems
        if intent in FINANCIAL_READERS:
            mid = v.pop("model_id")
            v.pop("last", None)
            return [Call("run_financial", {"model_id": mid, "params": v})], []
        if intent == "list_models":
            args = {k: v[k] for k in ("task", "family") if k in v}
            return [Call("list_models", args)], []
        if intent == "list_symbols":
            return [Call("list_symbols", {})], []
        if intent == "list_trials":
            return [
                Call("list_trials", {k: v[k] for k in ("model_id", "symbol", "limit") if k in v})
            ], []
        if intent == "show_trial":
            return [Call("trial_status", {"trial_id": v["trial_id"]})], []
        if intent == "data_summary":
            return [
                Call("data_summary", {k: v[k] for k in ("symbol", "start", "end") if k in v})
            ], []
        if intent == "set_goal":
            return [Call("set_goal", {"text": v["text"]})], []
        if intent in ("get_goal", "evaluate_goal"):
            return [Call(intent, {})], []
        if intent == "search_memory":
            return [Call("search_memory", {"query": v["query"], "k": v.get("k", 5)})], []
        if intent == "start_research":
            return [Call("start_research", dict(v))], []
        if intent in ("run_status", "cancel_run"):
            return [Call(intent, dict(v))], []
        return [], []

    def _plan(
        self, u: Understanding, slots: Slots, ctx: Context, *, confirm: bool
    ) -> Understanding:
        intent = u.intent
        if slots.problems:
            return self._ask_slot(u, slots.problems[0])
        if "timeframes" in slots.values and intent in ("train", "compare"):
            u.reply = "plan"  # several steps: proposed as one plan (see agent/plans.py)
            return u
        calls, problems = self.calls_for(intent, slots.values)
        if problems:
            u.question = (
                "I can't apply "
                + "; ".join(problems)
                + ". Run it without that? Say yes to run it as "
                + self.describe(calls[0])
                + "."
            )
            u.options = [calls]
            u.yes_runs = True
            return u
        missing_tool = next(
            (c.name for c in calls if ctx.tools is not None and c.name not in ctx.tools), None
        )
        if missing_tool is not None:
            u.reply = f"unavailable:{missing_tool}"
            return u
        checked, errors = self._validate(calls)
        if errors:
            u.question = errors[0] + ". What should I use instead?"
            u.missing = "fix"
            return u
        last = slots.values.get("last")
        if last:
            u.last = (float(last[0]), str(last[1]))
            u.needs_data_range = _symbols_of(checked)
        if intent == "list_symbols":
            u.filters = {k: slots.values[k] for k in ("topic", "symbols") if k in slots.values}
        if intent == "list_models" and "topic" in slots.values:
            u.filters = {"topic": slots.values["topic"]}
        if confirm:
            u.question = f"Did you mean: {self.describe(checked[0])}? Say yes to run it."
            u.options = [checked]
            u.yes_runs = True
            return u
        u.calls = checked
        return u

    def _validate(self, calls: Sequence[Call]) -> tuple[list[Call], list[str]]:
        """Each call checked by the bridge against its tool schema (as a model's would be)."""
        if self.bridge is None or not self.bridge.schemas:
            return list(calls), []
        out: list[Call] = []
        errors: list[str] = []
        for c in calls:
            if c.name not in self.bridge.schemas:
                out.append(c)
                continue
            parsed = self.bridge.parse_tool_call(c.name, c.arguments)
            if parsed.errors:
                errors += [e.message for e in parsed.errors]
                continue
            out.append(Call(c.name, c.arguments))
        return out, errors

    # -- questions --------------------------------------------------------------------------
    def _ask_slot(self, u: Understanding, problem: Problem) -> Understanding:
        """Ask about one slot; the options are what each choice would run."""
        u.question = problem.question
        u.missing = problem.slot
        values = {k: v for k, v in u.slots.items() if k != "_unknown_model"}
        if problem.slot == "model_id" and u.slots.get("_unknown_model"):
            name = u.slots["_unknown_model"]
            close = self.suggest_models(name)
            hint = (
                f", did you mean {' or '.join(close)}?"
                if close
                else "; 'what models do you have?' lists them."
            )
            u.question = f"unknown model '{name}'{hint}"
            problem = Problem("model_id", u.question, close)
        near_miss = u.question.startswith("unknown")
        if (
            u.intent == "train"
            and problem.slot == "model_id"
            and "compare them" in problem.question
        ):
            calls, _p = self._calls_or_none("compare", {**values, "model_ids": problem.choices})
            if calls:
                u.options.append(calls)
                u.yes_runs = True
            return u
        if problem.slot == "option_inputs":
            calls, _p = self._calls_or_none(u.intent, values)
            if calls:
                u.options.append(calls)
                u.yes_runs = True
            return u
        for choice in problem.choices[:3]:
            if problem.slot in ("model_id", "symbol"):
                filled = {**values, problem.slot: choice}
            elif problem.slot == "horizon":
                filled = {**values, "horizon": int(choice)}
            else:
                continue
            calls, _p = self._calls_or_none(u.intent, filled)
            if calls:
                u.options.append(calls)
        u.yes_runs = near_miss and bool(u.options)
        return u

    def _calls_or_none(
        self, intent: str, values: Mapping[str, Any]
    ) -> tuple[list[Call], list[str]]:
        try:
            return self.calls_for(intent, values)
        except KeyError:  # a required slot is still missing
            return [], []

    def _ask_between(
        self, u: Understanding, t: Tagged, ctx: Context, slots: Slots, second: str | None
    ) -> Understanding:
        """Not sure which capability: ask, naming what each would do. A misspelt name in
        either reading is the likeliest cause of the doubt, so that is asked about first."""
        candidates = [i for i in (u.intent, second) if i is not None and i not in _INFO_ONLY]
        readings = {i: (slots if i == u.intent else self.read_slots(i, t, ctx)) for i in candidates}
        for intent, s in readings.items():
            if s.problems and (
                "_unknown_model" in s.values or s.problems[0].question.startswith("unknown")
            ):
                u.intent, u.slots = intent, s.values
                return self._ask_slot(u, s.problems[0])
        described: list[str] = []
        for intent, s in readings.items():
            calls, _p = self._calls_or_none(intent, s.values) if not s.problems else ([], [])
            if calls:
                described.append(self.describe(calls[0]))
                u.options.append(calls)
            else:
                described.append(INTENTS[intent])
        if not described:
            u.reply = "other"
            return u
        u.question = "Did you mean: " + ", or ".join(described) + "?"
        if u.options:
            u.yes_runs = True
            u.question += " Say yes for the first, or rephrase."
        return u

    def suggest_models(self, name: str) -> list[str]:
        import difflib

        from .entities import _MODEL_NAMES

        close = self.vocab.models.suggest(name, n=2)
        names = difflib.get_close_matches(name.lower(), list(_MODEL_NAMES), n=2, cutoff=0.75)
        for n in names:
            target = _MODEL_NAMES[n]
            if not target.startswith("@") and target not in close:
                close.insert(0, target)
        return close[:2]

    # -- words --------------------------------------------------------------------------------
    @staticmethod
    def describe(call: Call) -> str:
        """A planned call in words, with only the values it was given."""
        a = call.arguments
        if call.name in ("train_model", "start_trial", "tune_model", "compare_models"):
            verb = {
                "train_model": "train",
                "start_trial": "start a background trial of",
                "tune_model": "tune",
                "compare_models": "compare",
            }[call.name]
            models = " and ".join(a["model_ids"]) if "model_ids" in a else a.get("model_id", "?")
            parts = [f"{verb} {models} on {a.get('symbol', '?')}"]
            if "start" in a and "end" in a:
                parts.append(f"from {a['start']} to {a['end']}")
            elif "start" in a:
                parts.append(f"from {a['start']}")
            elif "end" in a:
                parts.append(f"until {a['end']}")
            if "horizon" in a:
                parts.append(f"with a {a['horizon']}-bar horizon")
            extras = [
                f"{k}={a[k]}"
                for k in a
                if k not in ("model_id", "model_ids", "symbol", "start", "end", "horizon")
            ]
            if extras:
                parts.append("(" + ", ".join(extras) + ")")
            return " ".join(parts)
        if call.name == "run_financial":
            params = ", ".join(f"{k}={v}" for k, v in a.get("params", {}).items())
            return f"run {a['model_id']}" + (f" with {params}" if params else "")
        args = ", ".join(f"{k}={v}" for k, v in a.items())
        return call.name.replace("_", " ") + (f" ({args})" if args else "")


def _tune_extras(t: Tagged, s: Slots) -> None:
    low = t.text.lower()
    m = re.search(r"\b(\d+)\s*(?:optuna\s+)?trials?\b", low)
    if m:
        s.values["n_trials"] = int(m[1])
    m = re.search(
        r"\bmaximi[sz](?:e|ing)\s+(?:the\s+)?(sharpe|sortino|calmar|cagr|ic|rank_ic|psr)\b", low
    )
    if m:
        s.values["metric"] = m[1]
    m = re.search(r"\b(?:study(?:\s+name)?|called)\s+([A-Za-z0-9_-]{1,80})\b", t.text)
    if m:
        s.values["study"] = m[1]


def _symbols_of(calls: Sequence[Call]) -> list[str]:
    out: list[str] = []
    for c in calls:
        a = c.arguments
        for key in ("symbol", "symbol_y", "symbol_x"):
            if isinstance(a.get(key), str):
                out.append(a[key])
        p = a.get("params")
        if isinstance(p, dict):
            for key in ("symbol", "symbol_y", "symbol_x"):
                if isinstance(p.get(key), str):
                    out.append(p[key])
            if isinstance(p.get("symbols"), list):
                out += [x for x in p["symbols"] if isinstance(x, str)]
    return list(dict.fromkeys(out))


# -- one classifier per process ---------------------------------------------------------------
_SHARED: dict[tuple[str, ...], IntentClassifier] = {}


def shared_classifier(tagger: Tagger) -> IntentClassifier:
    """The classifier for this vocabulary, trained at most once per process."""
    key = (
        tuple(sorted(tagger.vocab.models.ids)) + ("|",) + tuple(sorted(tagger.vocab.financial.ids))
    )
    clf = _SHARED.get(key)
    if clf is None:
        clf = IntentClassifier(prepare=lambda s: Tagger.features(tagger.tag(s, near_misses=False)))
        _SHARED[key] = clf
    return clf


def bundled_planner(tool_schemas: Mapping[str, Any] | None = None) -> Planner:
    """A planner over the model registry and the bundled catalogue, without an App (tests,
    benchmarks, a quick look at what a sentence means). Symbols resolve as
    :meth:`~mltrainer.data.service.DataService.resolve_symbol` does for source "bundled"."""
    from ...data.bundled import BUNDLED
    from ...data.service import ALIASES
    from ...financial import FINANCIAL
    from ...models.registry import build_registry
    from ..bridge import Bridge

    registry = build_registry()

    def resolve(text: str) -> str | None:
        key = text.strip().upper()
        if key in BUNDLED:
            return key
        hit = ALIASES.get(key)
        return hit if hit in BUNDLED else None

    bridge = Bridge(
        registry.ids(),
        resolve,
        list(FINANCIAL),
        tool_schemas,
        known_symbols=list(BUNDLED),
        model_params={s.id: list(s.defaults) for s in registry},
    )
    return Planner.for_bridge(bridge)
