"""Tier 4 of the bridge: prose ("a trial on AAPL using the LSTM model", "compare lightgbm,
ridge and random forest on SPX", "set the train_ratio to 0.75").

Why prose matching is conservative: the predecessor read the symbol ``FOR`` out of "for
AAPL" and the model ``on`` out of a sentence, and users trained nonsense. Here prose only
ever yields symbols the catalogue knows written in capitals, registry models matched on
whole words (or named in "using the X model"), and an action only when the text also
shows intent (trial, train, backtest, compare...) and names exactly one symbol and one
model (or, for "compare", several models). A sentence that pairs a metric with a
past-tense verb ("the ridge trial on SPX finished with a Sharpe of 0.4") reports a result
and shows no intent. Anything ambiguous becomes a :class:`BridgeError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..plans import Plan, bind_timeframes
from .json_blocks import FENCE_RE, mask
from .readers import Invalid, read_prose_params, timeframe_mentions, unique
from .results import ActionRequest, BridgeError

if TYPE_CHECKING:
    from .core import Bridge

__all__ = ["Prose", "read_prose", "from_prose", "mask_code_fences", "INTENT_RE"]

INTENT_RE = re.compile(
    r"\b(?:trials?|train|training|backtest(?:s|ing)?|experiments?|fit|fitting|run|start|try|"
    r"starting|launch|launching|compare|comparing|comparison)\b",
    re.I,
)
# Words that propose work in a multi-step plan ("use an LSTM for 7-12 days and ...").
_PLAN_INTENT_RE = re.compile(
    r"\b(?:use|using|recommend|suggest|apply|go\s+with|deploy)\b|" + INTENT_RE.pattern, re.I
)
_COMPARE_RE = re.compile(r"\b(?:compare|comparing|comparison|head[\s-]to[\s-]head)\b", re.I)
# A sentence with a metric and a past-tense verb reports a result ("the ridge trial on SPX
# finished with a Sharpe of 0.4") and is not a request.
_REPORT_METRIC_RE = re.compile(
    r"\b(?:sharpe|sortino|calmar|drawdown|accuracy|rmse|mae|mse|r2|returns?|hit\s+rate|"
    r"win\s+rate|p&l|pnl)\b",
    re.I,
)
_REPORT_PAST_RE = re.compile(
    r"\b(?:finished|completed|achieved|scored|returned|yielded|gave|produced|was|were|had|got|"
    r"came\s+in|ended)\b",
    re.I,
)
# Code fences whose lines may hold key: value settings; other fences (python, bash...) are
# code, and are not read as key: value lines or prose.
_SETTINGS_FENCE_LANGS = frozenset(
    {"", "json", "json5", "jsonc", "yaml", "yml", "toml", "ini", "text", "txt", "md", "markdown"}
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|\n\s*\n")


@dataclass
class Prose:
    """What the prose of a reply names, with ambiguity kept visible."""

    intent: bool = False
    symbols: list[str] = field(default_factory=list)
    symbol: str | None = None
    models: list[str] = field(default_factory=list)
    model_problem: Invalid | None = None
    unknown_phrase: Invalid | None = None
    params: dict[str, Any] = field(default_factory=dict)
    param_errors: list[tuple[Invalid, str]] = field(default_factory=list)
    plan_pairs: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    """(model, timeframes) pairs when the reply proposes a step per model and timeframe."""


def read_prose(bridge: Bridge, text: str, cache: dict[str, str | None]) -> Prose:
    vocab = bridge.vocab
    reading = Prose(intent=asks_for_something(text))
    reading.symbols, reading.symbol = vocab.prose_symbols(text, cache)
    mentions = vocab.mentions(text)
    phrases, reading.unknown_phrase = vocab.phrase_models(text)
    compared = unique(within(mentions, sentences(text, _COMPARE_RE)))
    if len(compared) >= 2:
        reading.models = compared
    else:
        # A "using the X model" phrase beats a bare mention; several names are narrowed
        # to the sentences that ask for something before giving up.
        named = phrases or mentions
        distinct = unique(mid for _pos, mid in named)
        if len(distinct) > 1:
            narrowed = unique(within(named, sentences(text, INTENT_RE)))
            distinct = narrowed if narrowed else distinct
        pairs = _plan_pairs(bridge, text, named, distinct)
        if pairs:
            reading.plan_pairs = pairs
            reading.models = [mid for mid, _tfs in pairs]
        elif len(distinct) == 1:
            reading.models = distinct
        elif distinct:
            reading.model_problem = Invalid(
                f"several models named ({', '.join(distinct)}); say which one to train "
                "or ask to compare them",
                distinct,
            )
    reading.params, reading.param_errors = read_prose_params(text)
    return reading


def from_prose(
    bridge: Bridge, reading: Prose, plans: list[Plan]
) -> tuple[list[ActionRequest], list[BridgeError]]:
    if not (reading.intent or reading.plan_pairs) or not reading.symbols:
        return [], []

    def err(
        message: str, suggestions: Sequence[str] = (), fragment: str | None = None
    ) -> BridgeError:
        return BridgeError(
            message=message, suggestions=list(suggestions), origin="prose", fragment=fragment
        )

    errors: list[BridgeError] = []
    if reading.symbol is None:
        names = ", ".join(reading.symbols)
        errors.append(
            err(f"several symbols named ({names}); say which one to use", reading.symbols)
        )
    if reading.model_problem is not None:
        p = reading.model_problem
        errors.append(err(p.message, p.suggestions))
    elif not reading.models:
        if reading.unknown_phrase is not None:
            p = reading.unknown_phrase
            errors.append(err(p.message, p.suggestions))
        else:
            where = f" for the trial on {reading.symbol}" if reading.symbol else ""
            errors.append(
                err(
                    f"no model named{where}; say which model to train",
                    bridge.vocab.models.ids[:5],
                )
            )
    errors += [err(e.message, e.suggestions, frag) for e, frag in reading.param_errors]
    symbol = reading.symbol
    if errors or symbol is None:
        return [], errors
    if reading.plan_pairs:
        plan, errors = bridge.plan(reading.plan_pairs, symbol, reading.params)
        if plan is not None:
            plans.append(plan)
        return [], errors
    if len(reading.models) >= 2:
        params: dict[str, Any] = {"model_ids": reading.models, "symbol": symbol}
        action = "compare_models"
    else:
        params = {"model_id": reading.models[0], "symbol": symbol}
        action = "train_model"
    params.update(reading.params)
    return bridge.finish(action, params, "prose", None)


def _plan_pairs(
    bridge: Bridge, text: str, named: list[tuple[int, str]], distinct: list[str]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(model, timeframes) pairs when the reply proposes a step per model and timeframe:
    several models each given its own timeframe, or one model whose timeframes the
    train_model action cannot take as they are (its schema has a horizon, no timeframes).
    Only sentences that propose work count (see :mod:`mltrainer.agent.plans`)."""
    if not distinct:
        return []
    spans = [
        (a, b)
        for a, b in sentences(text, _PLAN_INTENT_RE)
        if not (_REPORT_METRIC_RE.search(text, a, b) and _REPORT_PAST_RE.search(text, a, b))
    ]
    inside = [(p, m) for p, m in named if any(a <= p < b for a, b in spans)]
    frames = timeframe_mentions(text)
    schema = bridge.schemas.get("train_model")
    single_ok = schema is not None and "timeframes" not in schema.model_fields
    if len(unique(m for _p, m in inside)) < (1 if single_ok else 2) or not frames:
        return []
    if len(distinct) == 1 and not single_ok:
        return []
    return bind_timeframes(inside, frames) or []


def sentences(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of the sentences of ``text`` in which ``pattern`` occurs."""
    if not pattern.search(text):
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for sep in [*_SENTENCE_SPLIT_RE.finditer(text), None]:
        end = sep.start() if sep else len(text)
        if pattern.search(text, start, end):
            spans.append((start, end))
        start = sep.end() if sep else len(text)
    return spans


def within(found: Iterable[tuple[int, str]], spans: Sequence[tuple[int, int]]) -> list[str]:
    return [mid for pos, mid in found if any(a <= pos < b for a, b in spans)]


def asks_for_something(text: str) -> bool:
    """A sentence has a request word (trial, train, compare...) and is not a result report."""
    for a, b in sentences(text, INTENT_RE):
        sentence = text[a:b]
        if not (_REPORT_METRIC_RE.search(sentence) and _REPORT_PAST_RE.search(sentence)):
            return True
    return False


def mask_code_fences(text: str) -> str:
    spans = [
        (m.start(), m.end())
        for m in FENCE_RE.finditer(text)
        if m.group(1).lower() not in _SETTINGS_FENCE_LANGS
    ]
    return mask(text, spans)
