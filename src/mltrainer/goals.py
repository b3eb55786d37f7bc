"""Research goals: parse a goal sentence into checkable parts, persist it, evaluate results.

A goal such as ``"momentum models for 7–12 and 50–70 day horizons, Sharpe above 1.5,
drawdown under 5%"`` becomes :class:`GoalComponents`: two timeframes (7–12 days, 50–70
days), two constraints (``sharpe > 1.5``, ``max_drawdown < 0.05``), the strategy
``momentum`` and the primary objective (the text before the first constraint). Goals steer
the agent and decide when a search is done, so :meth:`Goal.evaluate` never guesses: a
missing or NaN metric fails its constraint with the reason ``"metric not available"``.

Parsing rules (all case-insensitive, on word boundaries):

* **Timeframes**: ``7-12 days``, ``7–12 days`` (en/em dash), ``7 to 12 days``,
  ``between 50 and 70 days``, ``10-day``, ``10d``; a unit may be shared by a list
  (``7–12 and 50–70 day horizons``). Units: days (``d``, ``trading days``), weeks, months,
  years, bars, hours, minutes. A number without a unit is not a timeframe.
* **Constraints**: ``<metric> <operator> <number>[%]`` (``Sharpe above 1.5``,
  ``hit rate at least 55%``, ``win rate ≥ 60%``) or ``<operator> <number>[%] <metric>``
  (``at least 55% hit rate``). Metric names become the keys trial results use (see
  :data:`METRIC_KEYS`; ``win rate`` is ``hit_rate``). Operators become ``> >= < <=``:
  above/over/greater than/more than/exceeding → ``>``; at least/≥/no less than/minimum →
  ``>=``; under/below/less than/lower than → ``<``; at most/≤/no more than/up to/maximum/
  not exceeding → ``<=``. A direction-less ``of``/``is``/``=``/``:`` means ``<=`` for
  lower-is-better metrics (max_drawdown, volatility, turnover) and ``>=`` otherwise.
* **Values**: ``5%``, ``5 percent`` → 0.05. For fraction metrics (max_drawdown, cagr,
  volatility, hit_rate, accuracy, auc) a bare number above 1 is read as a percentage
  (``accuracy over 65`` → 0.65). Drawdown targets are magnitudes: ``drawdown above -5%``
  becomes ``max_drawdown < 0.05``.
* **Symbols**: only tokens written in capitals (``SPX``, ``BRK.B``) or as cashtags
  (``$aapl``) that the ``resolve_symbol`` callable accepts; common words and metric
  acronyms (``FOR``, ``THE``, ``CAGR``, ``LSTM``...) never are.
* **Strategies**: a vocabulary of strategy and model-family names (:data:`STRATEGY_TERMS`).
"""

from __future__ import annotations

import math
import operator
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from numbers import Real
from typing import Literal, cast

from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from .audit import AuditLog
from .compliance import ComplianceGateway, Decision
from .db import lock_for_write, named_lock
from .db.tables import GoalRow
from .errors import MLTrainerError, NotFound
from .seals import seal_goal, seal_in

__all__ = [
    "Goal",
    "GoalComponents",
    "GoalEvaluation",
    "GoalSystem",
    "Constraint",
    "ConstraintResult",
    "Timeframe",
    "parse_goal",
    "find_metrics",
    "find_strategies",
    "find_symbols",
    "METRIC_KEYS",
    "STRATEGY_TERMS",
]

Op = Literal[">", ">=", "<", "<="]
Unit = Literal["days", "weeks", "months", "years", "bars", "hours", "minutes"]
SymbolResolver = Callable[[str], str | None]

# -- vocabularies -----------------------------------------------------------------------

# metric key -> alias regex. Order matters: longer/more specific aliases first.
_METRIC_ALIASES: dict[str, str] = {
    "max_drawdown": r"(?:max(?:imum)?\.?[\s_]+|peak[\s-]to[\s-]trough[\s_]+)?draw[\s_-]?downs?|mdd",
    "sharpe": r"sharpe(?:[\s_]+ratio)?",
    "sortino": r"sortino(?:[\s_]+ratio)?",
    "calmar": r"calmar(?:[\s_]+ratio)?",
    "cagr": r"cagr|(?:compound\s+)?annual(?:i[sz]ed)?\s+(?:growth\s+rate|returns?)",
    "volatility": r"(?:annual(?:i[sz]ed)?\s+)?volatility|vol",
    "hit_rate": r"hit[\s_-]?rate|hit\s+ratio|win[\s_-]?rate|directional\s+accuracy",
    "accuracy": r"accuracy",
    "auc": r"(?:roc[\s_-]?)?auc",
    "rank_ic": r"rank[\s_-]?ic",
    "ic": r"ic|information\s+coefficient",
    "turnover": r"turnover",
}
METRIC_KEYS: tuple[str, ...] = tuple(_METRIC_ALIASES)
"""Metric keys of trial results that goals can constrain."""

_LOWER_IS_BETTER = frozenset({"max_drawdown", "volatility", "turnover"})
_FRACTION_METRICS = frozenset({"max_drawdown", "cagr", "volatility", "hit_rate", "accuracy", "auc"})
_METRIC_RX = {k: re.compile(rf"(?:{v})", re.I) for k, v in _METRIC_ALIASES.items()}
_METRIC_ALT = "|".join(f"(?:{v})" for v in _METRIC_ALIASES.values())
_METRIC_ANY = re.compile(rf"(?<![\w-])(?:{_METRIC_ALT})(?!\w)", re.I)

# canonical strategy / model-family name -> regex (letters-only boundaries so that
# "random_forest_100" still mentions "random forest").
STRATEGY_TERMS: dict[str, str] = {
    "momentum": r"momentum",
    "mean reversion": r"mean[\s_-]?revers(?:ion|al|ing)|mean[\s_-]?revert(?:ing)?",
    "trend following": r"trend[\s_-]?follow(?:ing|er|ers)?",
    "breakout": r"break[\s_-]?outs?",
    "volatility": r"volatility",
    "regime": r"regimes?(?:[\s_-]switching)?",
    "pairs trading": r"pairs?[\s_-]trading|stat(?:istical)?[\s_-]arb(?:itrage)?",
    "carry": r"carry",
    "random forest": r"random[\s_-]?forests?",
    "gradient boosting": r"gradient[\s_-]?boost(?:ing|ed)?",
    "lightgbm": r"light[\s_-]?gbm",
    "xgboost": r"xg[\s_-]?boost",
    "catboost": r"cat[\s_-]?boost",
    "lstm": r"lstms?",
    "gru": r"grus?",
    "transformer": r"transformers?",
    "garch": r"e?garch",
    "hmm": r"hmms?|hidden[\s_-]markov(?:[\s_-]models?)?",
    "arima": r"s?arimax?",
    "linear regression": r"linear[\s_-]regression",
    "logistic regression": r"logistic[\s_-]regression",
    "ridge": r"ridge",
    "lasso": r"lasso",
    "elastic net": r"elastic[\s_-]?net",
    "svm": r"svms?|support[\s_-]vector(?:[\s_-]machines?)?",
    "knn": r"k?nn|k[\s_-]nearest[\s_-]neighbou?rs?",
    "neural network": r"neural[\s_-]net(?:work)?s?",
}
_STRATEGY_RX = {
    k: re.compile(rf"(?<![A-Za-z])(?:{v})(?![A-Za-z])", re.I) for k, v in STRATEGY_TERMS.items()
}

# Capitalised tokens that are words or metric/model acronyms, never tickers.
_NOT_SYMBOLS = frozenset(  # noqa: SIM905 - a word list reads better as one string
    """A I AN AND ANY ARE AS AT BE BUT BY DO FOR FROM HAS HAVE IF IN IS IT ITS MY NO NOT OF ON
    OR OUR SO THE THEN TO UP US WE WITH ALL NEW NOW ONE TWO OUT OVER UNDER ABOVE BELOW SET
    GOAL NOTE OK YES USE RUN TRY GET SEE ETC VS PER PCT MAX MIN AVG
    CAGR AUC ROC IC MDD PNL P&L ROI LSTM GRU HMM GARCH ARIMA SVM KNN RF ML AI LLM API CSV
    JSON SMA EMA RSI MACD ATR OHLC OHLCV DD YTD TBD FYI ASAP USD EUR""".split()
)
_SYMBOL_TOKEN = re.compile(
    r"(?<![\w$^.])(\$[A-Za-z][\w.]*|\^?[A-Z][A-Z0-9]*(?:[._][A-Z0-9]+)*)(?![\w])"
)

# -- timeframes and constraints -----------------------------------------------------------

_UNITS: dict[str, str] = {
    r"trading[\s-]days?|days?|d": "days",
    r"weeks?|wks?|w": "weeks",
    r"months?|mos?": "months",
    r"years?|yrs?": "years",
    r"bars?": "bars",
    r"hours?|hrs?|h": "hours",
    r"minutes?|mins?": "minutes",
}
_UNIT = "|".join(f"(?:{u})" for u in _UNITS)
_ITEM = r"(?:between\s+\d+\s+and\s+\d+|\d+(?:\s*[-–—]\s*|\s+(?:to|through)\s+)\d+|\d+)"
_TF_GROUP = re.compile(
    rf"(?<![\w.,])(?P<items>{_ITEM}(?:\s*(?:,|and|or|&|/)\s*{_ITEM})*)\s*-?\s*(?P<unit>{_UNIT})(?![\w])",
    re.I,
)
_TF_ITEM = re.compile(
    r"between\s+(?P<a>\d+)\s+and\s+(?P<b>\d+)|(?P<c>\d+)(?:(?:\s*[-–—]\s*|\s+(?:to|through)\s+)(?P<d>\d+))?",
    re.I,
)
_TRADING_DAYS = {"days": 1, "bars": 1, "weeks": 5, "months": 21, "years": 252}

_OP_WORDS: list[tuple[str, str]] = [
    (
        ">=",
        r"at\s+least|no\s+less\s+than|not\s+less\s+than|greater\s+than\s+or\s+equal\s+to|minimum(?:\s+of)?|min",
    ),
    (
        "<=",
        r"at\s+most|no\s+more\s+than|not\s+more\s+than|less\s+than\s+or\s+equal\s+to|up\s+to"
        r"|maximum(?:\s+of)?|max|not\s+(?:to\s+)?exceed(?:ing)?|no\s+(?:greater|higher|worse)\s+than",
    ),
    (">", r"above|over|greater\s+than|more\s+than|higher\s+than|exceeding|exceeds?|beating|beats?"),
    ("<", r"under|below|less\s+than|lower\s+than|beneath|smaller\s+than"),
    ("?", r"of|is|equal\s+to|around|near|targeting|target"),
]
_OP_SYMBOLS: list[tuple[str, str]] = [
    (">=", r"≥|>=|=>"),
    ("<=", r"≤|<=|=<"),
    (">", r">"),
    ("<", r"<"),
    ("?", r"=|:"),
]
_OP_RX = [(op, re.compile(rf"(?:{rx})$", re.I)) for op, rx in _OP_WORDS + _OP_SYMBOLS]
_OP_WORD_ALT = "|".join(rx for _, rx in _OP_WORDS)
_OP_SYM_ALT = "|".join(rx for _, rx in _OP_SYMBOLS)
_OP = rf"(?:\b(?:{_OP_WORD_ALT})\b|{_OP_SYM_ALT})"
_DIRECTED_OP = (
    rf"(?:\b(?:{'|'.join(rx for op, rx in _OP_WORDS if op != '?')})\b|≥|>=|=>|≤|<=|=<|>|<)"
)
_NUM = r"(?P<num>[-+−]?(?:\d+(?:\.\d+)?|\.\d+))"
_PCT = r"(?P<pct>\s*(?:%|percent\b|per\s*cent\b|pct\b))?"
_NOT_TIMEFRAME = rf"(?!\s*(?:[-–—]|to\s|through\s)\s*\d)(?!\s*-?\s*(?:{_UNIT})(?![\w]))(?![\d.]\d)"
_FILLER = r"(?:(?:should|must|needs?|has|have|to|be|is|are|stay|stays|remain|remains|kept|keep|of|a|an)\s+)"
_CONSTRAINT_FWD = re.compile(
    rf"(?<![\w-])(?P<metric>{_METRIC_ALT})(?!\w)\s*{_FILLER}*?(?P<op>{_OP})\s*{_NUM}{_PCT}{_NOT_TIMEFRAME}",
    re.I,
)
_CONSTRAINT_REV = re.compile(
    rf"(?P<op>{_DIRECTED_OP})\s*{_NUM}{_PCT}\s+(?P<metric>{_METRIC_ALT})(?!\w)",
    re.I,
)
_GOAL_PREFIX = re.compile(
    r"^\s*(?:(?:please\s+)?(?:set|new|update|change)\s+(?:the\s+|my\s+)?)?goal\s*(?:to\b|is\b|:|-)?\s*",
    re.I,
)
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

# -- pydantic boundary models ----------------------------------------------------------


class Timeframe(BaseModel):
    """A horizon range, inclusive: ``Timeframe(min=7, max=12, unit="days")``."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    unit: Unit = "days"

    def contains(self, horizon: int, unit: Unit = "days") -> bool:
        """True if ``horizon`` (in ``unit``) lies in ``[min, max]``.

        Day-like units (days, bars, weeks = 5, months = 21, years = 252 trading days) are
        compared in trading days; hours and minutes only against the same unit.
        """
        if unit == self.unit:
            return self.min <= horizon <= self.max
        if unit in _TRADING_DAYS and self.unit in _TRADING_DAYS:
            h, f = horizon * _TRADING_DAYS[unit], _TRADING_DAYS[self.unit]
            return self.min * f <= h <= self.max * f
        return False


class Constraint(BaseModel):
    """``Constraint(metric="sharpe", op=">", value=1.5)``; drawdown values are magnitudes."""

    metric: str
    op: Op
    value: float


class GoalComponents(BaseModel):
    """What :func:`parse_goal` found. ``metrics`` lists every metric mentioned (legacy field)."""

    primary_objective: str | None = None
    timeframes: list[Timeframe] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    symbols: list[str] = Field(default_factory=list)
    strategies: list[str] = Field(default_factory=list)

    def describe(self) -> list[str]:
        """What was understood, as readable lines for a person (empty parts are left out):
        ``["objective: momentum on SPX", "timeframes: 7-12 days", "constraints: sharpe > 1.5"]``.
        """
        parts = [
            ("objective", self.primary_objective or ""),
            ("timeframes", ", ".join(f"{t.min}-{t.max} {t.unit}" for t in self.timeframes)),
            (
                "constraints",
                ", ".join(f"{c.metric} {c.op} {c.value:g}" for c in self.constraints),
            ),
            ("symbols", ", ".join(self.symbols)),
            ("strategies", ", ".join(self.strategies)),
        ]
        return [f"{label}: {text}" for label, text in parts if text]


class ConstraintResult(BaseModel):
    metric: str
    op: Op
    target: float
    actual: float | None
    passed: bool
    reason: str


class GoalEvaluation(BaseModel):
    """Whether results meet a goal. ``met`` needs every constraint passed, at least one
    constraint, and (when a horizon is given and the goal has timeframes) a horizon inside
    one of them."""

    goal_id: str | None = None
    met: bool
    results: list[ConstraintResult] = Field(default_factory=list)
    horizon: int | None = None
    horizon_ok: bool | None = None
    """None when no horizon was given or the goal names no timeframe."""
    timeframe: Timeframe | None = None
    reason: str


class Goal(BaseModel):
    id: str
    text: str
    components: GoalComponents
    status: Literal["active", "archived"] = "active"
    created_at: datetime
    created_by: str = "user"
    archived_at: datetime | None = None

    def evaluate(
        self, metrics: Mapping[str, float], horizon: int | None = None, unit: Unit = "days"
    ) -> GoalEvaluation:
        """Check ``metrics`` (trial-result keys such as ``sharpe``) against the constraints.

        ``max_drawdown`` may be given as a negative return (-0.04) or a positive magnitude
        (0.04): ``abs(value)`` is compared to the target. A missing, non-numeric or
        non-finite metric fails with reason ``"metric not available"``.
        """
        results = [_check(c, metrics) for c in self.components.constraints]
        horizon_ok: bool | None = None
        hit: Timeframe | None = None
        if horizon is not None and self.components.timeframes:
            hit = next((t for t in self.components.timeframes if t.contains(horizon, unit)), None)
            horizon_ok = hit is not None
        failed = [r for r in results if not r.passed]
        if not results:
            met, reason = False, "goal has no measurable constraints"
        elif failed:
            met = False
            reason = "; ".join(f"{r.metric}: {r.reason}" for r in failed)
        elif horizon_ok is False:
            met = False
            spans = ", ".join(f"{t.min}-{t.max} {t.unit}" for t in self.components.timeframes)
            reason = f"horizon {horizon} {unit} is outside the goal's timeframes ({spans})"
        else:
            met, reason = True, "all constraints met"
        return GoalEvaluation(
            goal_id=self.id,
            met=met,
            results=results,
            horizon=horizon,
            horizon_ok=horizon_ok,
            timeframe=hit,
            reason=reason,
        )


def _lookup(metric: str, metrics: Mapping[str, float]) -> float | None:
    value = metrics.get(metric)
    if value is None:  # accept aliases such as "sharpe_ratio" or "Max Drawdown"
        rx = _METRIC_RX.get(metric)
        for k, v in metrics.items():
            if rx is not None and isinstance(k, str) and rx.fullmatch(k.strip()):
                value = v
                break
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _check(c: Constraint, metrics: Mapping[str, float]) -> ConstraintResult:
    actual = _lookup(c.metric, metrics)
    if actual is None:
        return ConstraintResult(
            metric=c.metric, op=c.op, target=c.value, actual=None, passed=False,
            reason="metric not available",
        )  # fmt: skip
    compared = abs(actual) if c.metric == "max_drawdown" else actual
    passed = _COMPARE[c.op](compared, c.value)
    shown = f"|{actual:g}| = {compared:g}" if compared != actual else f"{actual:g}"
    reason = f"{shown} {c.op} {c.value:g}" if passed else f"{shown} is not {c.op} {c.value:g}"
    return ConstraintResult(
        metric=c.metric, op=c.op, target=c.value, actual=actual, passed=passed, reason=reason
    )


# -- parsing ----------------------------------------------------------------------------


def _metric_key(alias: str) -> str | None:
    alias = " ".join(alias.split())
    return next((k for k, rx in _METRIC_RX.items() if rx.fullmatch(alias)), None)


def find_metrics(text: str) -> list[str]:
    """Metric keys mentioned in ``text``, in order of first mention."""
    out: list[str] = []
    for m in _METRIC_ANY.finditer(text):
        key = _metric_key(m.group(0))
        if key and key not in out:
            out.append(key)
    return out


def find_strategies(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[str]:
    """Strategy / model-family names from :data:`STRATEGY_TERMS`, ignoring ``skip`` spans."""
    found: list[tuple[int, str]] = []
    for name, rx in _STRATEGY_RX.items():
        for m in rx.finditer(text):
            if not _overlaps(m.span(), skip):
                found.append((m.start(), name))
                break
    return [name for _, name in sorted(found)]


def find_symbols(text: str, resolve_symbol: SymbolResolver | None) -> list[str]:
    """Symbols written in capitals or as cashtags that ``resolve_symbol`` accepts."""
    if resolve_symbol is None:
        return []
    out: list[str] = []
    for m in _SYMBOL_TOKEN.finditer(text):
        token = m.group(1).lstrip("$")
        if not token or token.upper() in _NOT_SYMBOLS:
            continue
        try:
            sym = resolve_symbol(token)
        except (LookupError, ValueError, MLTrainerError):
            sym = None
        if sym and sym not in out:
            out.append(sym)
    return out


def _overlaps(span: tuple[int, int], spans) -> bool:
    return any(span[0] < e and s < span[1] for s, e in spans)


def _unit(word: str) -> str:
    word = " ".join(word.lower().split())
    return next(u for rx, u in _UNITS.items() if re.fullmatch(rx, word))


def _parse_timeframes(text: str) -> tuple[list[Timeframe], list[tuple[int, int]]]:
    out: list[Timeframe] = []
    spans: list[tuple[int, int]] = []
    for g in _TF_GROUP.finditer(text):
        unit = _unit(g.group("unit"))
        for it in _TF_ITEM.finditer(g.group("items")):
            if it.group("a"):
                lo, hi = int(it.group("a")), int(it.group("b"))
            else:
                lo = int(it.group("c"))
                hi = int(it.group("d")) if it.group("d") else lo
            tf = Timeframe(min=min(lo, hi), max=max(lo, hi), unit=cast(Unit, unit))
            if tf not in out:
                out.append(tf)
        spans.append(g.span())
    return out, spans


def _constraint(metric_text: str, op_text: str, num: str, pct: str | None) -> Constraint | None:
    metric = _metric_key(metric_text)
    op = next((o for o, rx in _OP_RX if rx.fullmatch(" ".join(op_text.split()))), None)
    if metric is None or op is None:
        return None
    if op == "?":
        op = "<=" if metric in _LOWER_IS_BETTER else ">="
    value = float(num.replace("−", "-"))
    if pct or (metric in _FRACTION_METRICS and abs(value) > 1):
        value /= 100.0
    if metric == "max_drawdown" and value < 0:
        value, op = -value, _FLIP[op]
    return Constraint(metric=metric, op=cast(Op, op), value=round(value, 12))


def _parse_constraints(text: str, skip: list[tuple[int, int]]):
    found: list[tuple[int, Constraint]] = []
    spans: list[tuple[int, int]] = []
    for rx in (_CONSTRAINT_FWD, _CONSTRAINT_REV):
        for m in rx.finditer(text):
            if _overlaps(m.span(), spans) or _overlaps(m.span("num"), skip):
                continue
            c = _constraint(m.group("metric"), m.group("op"), m.group("num"), m.group("pct"))
            if c is not None:
                found.append((m.start(), c))
                spans.append(m.span())
    found.sort(key=lambda x: x[0])
    return [c for _, c in found], spans


def parse_goal(text: str, resolve_symbol: SymbolResolver | None = None) -> GoalComponents:
    """Parse a goal sentence; see the module docstring for the rules.

    Example: ``parse_goal("accuracy > 0.65 and hit rate at least 55% on AAPL for 10-day
    horizon", resolve)`` → constraints ``accuracy > 0.65``, ``hit_rate >= 0.55``, symbol
    ``AAPL``, timeframe 10–10 days, no primary objective (the text starts with a constraint).
    """
    body = _GOAL_PREFIX.sub("", text, count=1).strip()
    timeframes, tf_spans = _parse_timeframes(body)
    constraints, c_spans = _parse_constraints(body, tf_spans)
    cut = min((s for s, _ in c_spans), default=len(body))
    objective = re.sub(
        r"(?:[\s,;:.\-–]|\b(?:with|and|where|while|that)\b)+$", "", body[:cut], flags=re.I
    )
    objective = objective.strip()
    metrics = find_metrics(body)
    for c in constraints:
        if c.metric not in metrics:
            metrics.append(c.metric)
    return GoalComponents(
        primary_objective=objective or None,
        timeframes=timeframes,
        constraints=constraints,
        metrics=metrics,
        symbols=find_symbols(body, resolve_symbol),
        strategies=find_strategies(body, skip=c_spans),
    )


# -- persistence -------------------------------------------------------------------------


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _to_goal(row: GoalRow) -> Goal:
    return Goal(
        id=row.id,
        text=row.text,
        components=GoalComponents.model_validate(row.components or {}),
        status=row.status,  # type: ignore[arg-type]
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        created_by=row.created_by,
        archived_at=_utc(row.archived_at),
    )


class GoalSystem:
    """The goal store: at most one active goal; every change is audited.

    ``set_goal`` checks the text with the compliance gateway first, so a refused goal
    leaves the previous one active. Each change and its audit records are one transaction
    (``AuditLog.append_in``), run inside a lock held across processes, so concurrent
    ``goal set`` runs archive each goal exactly once, the log lists every archive and set
    in the order they happened, and a crash never keeps a change without its record.
    """

    def __init__(
        self,
        engine: Engine,
        gateway: ComplianceGateway,
        audit: AuditLog,
        resolve_symbol: SymbolResolver | None = None,
    ):
        self._engine = engine
        self._gateway = gateway
        self._audit = audit
        self._resolve = resolve_symbol
        self._lock = threading.Lock()

    def parse(self, text: str) -> GoalComponents:
        return parse_goal(text, self._resolve)

    @contextmanager
    def _serialised(self) -> Iterator[None]:
        """One goal change at a time (threads and processes), its audit records included."""
        with self._lock, named_lock(self._engine, "goals.change"):
            yield

    @contextmanager
    def _exclusive(self) -> Iterator[Session]:
        """A write transaction that holds the write lock from before its first read."""
        with Session(self._engine) as s, s.begin():
            lock_for_write(s, "goals")
            yield s

    def set_goal(self, text: str, user: str = "user") -> Goal:
        """Make ``text`` the active goal, archiving the previous one.

        Raises :class:`ComplianceError` for forbidden text (e.g. promised returns).
        """
        with self._serialised():
            return self._set_goal(text, user)

    def _set_goal(self, text: str, user: str) -> Goal:
        if not isinstance(text, str) or not text.strip():
            raise MLTrainerError("a goal needs some text, e.g. 'momentum on SPX, Sharpe above 1'")
        text = text.strip()
        self._gateway.require_text(text, actor=user)
        goal = Goal(
            id=f"goal_{uuid.uuid4().hex[:12]}",
            text=text,
            components=self.parse(text),
            created_at=datetime.now(UTC),
            created_by=user,
        )
        with self._exclusive() as s:
            previous = s.scalars(select(GoalRow).where(GoalRow.status == "active")).all()
            now = datetime.now(UTC)
            s.execute(
                update(GoalRow)
                .where(GoalRow.id.in_([p.id for p in previous]))
                .values(status="archived", archived_at=now)
            )
            s.add(
                GoalRow(
                    id=goal.id,
                    text=goal.text,
                    components=goal.components.model_dump(mode="json"),
                    created_at=goal.created_at,
                    created_by=user,
                    status="active",
                )
            )
            replaced = [(p.id, p.text) for p in previous]
            for pid, ptext in replaced:
                self._audit.append_in(
                    s,
                    "goal.archive",
                    {"goal_id": pid, "text": ptext, "reason": f"replaced by {goal.id}"},
                    actor=user,
                )
            self._audit.append_in(
                s,
                "goal.set",
                {
                    "goal_id": goal.id,
                    "text": goal.text,
                    "components": goal.components.model_dump(mode="json"),
                    "previous_goal_id": replaced[-1][0] if replaced else None,
                },
                actor=user,
            )
        seal_goal(self._audit, goal.id, actor=user)  # the stored goal joins the chain
        return goal

    def current(self) -> Goal | None:
        with Session(self._engine) as s:
            row = s.scalars(
                select(GoalRow)
                .where(GoalRow.status == "active")
                .order_by(GoalRow.created_at.desc())
                .limit(1)
            ).first()
            return _to_goal(row) if row else None

    def get(self, goal_id: str) -> Goal:
        with Session(self._engine) as s:
            row = s.get(GoalRow, goal_id)
            if row is None:
                raise NotFound(f"no goal '{goal_id}'; list goals with 'mltrainer goal history'")
            return _to_goal(row)

    def history(self, limit: int | None = None) -> list[Goal]:
        """All goals, newest first."""
        with Session(self._engine) as s:
            q = select(GoalRow).order_by(GoalRow.created_at.desc(), GoalRow.id.desc())
            if limit is not None:
                q = q.limit(limit)
            return [_to_goal(r) for r in s.scalars(q)]

    def archive(self, user: str = "user") -> Goal:
        """Archive the active goal and return it; :class:`NotFound` if there is none."""
        with self._serialised():
            return self._archive(user)

    def _archive(self, user: str) -> Goal:
        with self._exclusive() as s:
            row = s.scalars(
                select(GoalRow)
                .where(GoalRow.status == "active")
                .order_by(GoalRow.created_at.desc())
                .limit(1)
            ).first()
            if row is None:
                raise NotFound("there is no active goal to archive; set one with set_goal")
            row.status, row.archived_at = "archived", datetime.now(UTC)
            goal = _to_goal(row)
            self._audit.append_in(
                s,
                "goal.archive",
                {"goal_id": goal.id, "text": goal.text, "reason": "archived"},
                actor=user,
            )
        return goal

    def evaluate(
        self, metrics: Mapping[str, float], horizon: int | None = None
    ) -> GoalEvaluation | None:
        """Evaluate ``metrics`` against the active goal; None when no goal is set."""
        goal = self.current()
        return goal.evaluate(metrics, horizon) if goal else None

    # -- legacy import (inside the caller's transaction) ------------------------------
    def add_history_in(
        self,
        session: Session,
        *,
        goal_id: str,
        text: str,
        created_at: datetime,
        archived_at: datetime | None = None,
        created_by: str = "legacy",
        actor: str = "migrate",
        legacy: Mapping[str, object] | None = None,
    ) -> Goal:
        """Store a goal of an earlier version's history, archived, with its original
        timestamps, inside ``session``'s open transaction: audited (``goal.import``, with
        ``legacy`` describing where it came from) and sealed like any stored goal. Nothing
        becomes active here (see :meth:`restore_in`)."""
        goal = Goal(
            id=goal_id,
            text=text,
            components=self.parse(text),
            status="archived",
            created_at=_utc(created_at),  # type: ignore[arg-type]
            created_by=created_by,
            archived_at=_utc(archived_at),
        )
        session.add(
            GoalRow(
                id=goal.id,
                text=goal.text,
                components=goal.components.model_dump(mode="json"),
                created_at=goal.created_at,
                created_by=goal.created_by,
                status="archived",
                archived_at=goal.archived_at,
            )
        )
        self._audit.append_in(
            session,
            "goal.import",
            {
                "goal_id": goal.id,
                "text": goal.text,
                "components": goal.components.model_dump(mode="json"),
                "created_at": goal.created_at.isoformat(),
                "archived_at": goal.archived_at.isoformat() if goal.archived_at else None,
                "legacy": dict(legacy or {}),
            },
            actor=actor,
        )
        seal_in(session, self._audit, "goal.seal", goal.id, actor=actor)
        return goal

    def text_decision(self, text: str, actor: str = "migrate") -> Decision:
        """The compliance gateway's decision on a goal text, without auditing it (a dry
        run reports it; :meth:`restore_in` audits the same decision when it acts on it)."""
        return ComplianceGateway(self._gateway.policy).check_text(text, actor=actor)

    def active_in(self, session: Session) -> Goal | None:
        """The active goal as ``session``'s transaction sees it."""
        row = session.scalars(
            select(GoalRow)
            .where(GoalRow.status == "active")
            .order_by(GoalRow.created_at.desc())
            .limit(1)
        ).first()
        return _to_goal(row) if row else None

    def restore_in(
        self, session: Session, goal_id: str, actor: str = "migrate"
    ) -> tuple[Goal | None, str]:
        """Make the stored goal ``goal_id`` the active goal if no goal is active, inside
        ``session``'s open transaction, and return ``(goal, why)`` (``goal`` is None when
        it was not restored). The transaction must hold ``lock_for_write(session,
        "goals")`` from before its first read. The text is checked by the compliance
        gateway as :meth:`set_goal` checks it; the decision and the ``goal.set`` are
        audited in the same transaction, so a refused text stays archived."""
        active = self.active_in(session)
        if active is not None:
            return None, f"not restored: goal {active.id} is already active"
        row = session.get(GoalRow, goal_id)
        if row is None:
            raise NotFound(f"no goal '{goal_id}' to restore")
        d = self.text_decision(row.text, actor=actor)
        self._audit.append_in(
            session,
            "compliance",
            {"check": d.check, "allowed": d.allowed, "reason": d.reason, "subject": row.text[:200]},
            actor=actor,
        )
        if not d.allowed:
            return None, f"not restored: {d.reason}"
        row.status, row.archived_at = "active", None
        goal = _to_goal(row)
        self._audit.append_in(
            session,
            "goal.set",
            {
                "goal_id": goal.id,
                "text": goal.text,
                "components": goal.components.model_dump(mode="json"),
                "previous_goal_id": None,
                "restored": "legacy current goal",
            },
            actor=actor,
        )
        return goal, "restored as the active goal"
