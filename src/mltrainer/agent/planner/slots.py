"""Slot readers: the values a request gives, per intent, from the tagged message.

Each reader returns a :class:`Slots`: the values read (named as the tool's arguments:
``model_id``, ``symbol``, ``horizon``, ``start``...), the problems found (a missing or
ambiguous value, an unknown name with suggestions), and how to ask about them. Values are
read from the message with its entities blanked (so "126-day momentum" gives a lookback,
not a horizon, and "2010-2020" a date range, not a number), through the bridge's shared
readers where they apply (:func:`~mltrainer.agent.bridge.readers.read_prose_params` for
sources, lookbacks and epochs). Nothing is filled in that the message did not say; the
tool's own defaults apply to the rest.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..bridge.readers import read_prose_params
from .entities import BARS_PER, NUM, Tagged, number_value

__all__ = [
    "Slots",
    "Problem",
    "trial_slots",
    "list_models_slots",
    "list_symbols_slots",
    "list_trials_slots",
    "trial_id_slots",
    "goal_text",
    "memory_query",
    "research_slots",
    "run_id_slots",
    "symbol_slots",
    "TOPICS",
]


@dataclass
class Problem:
    """Why the planner cannot act yet, and the question that would settle it."""

    slot: str
    question: str
    choices: list[str] = field(default_factory=list)


@dataclass
class Slots:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the planner assumed and will say ("momentum means tsmom_252 here")."""


# -- trial settings ------------------------------------------------------------------------------
_UNIT = r"(?P<u>trading\s+days?|days?|d|bars?|sessions?|weeks?|wks?|w|months?|mos?|quarters?|years?|yrs?)"
_HORIZON_PATTERNS = tuple(
    re.compile(rx, re.I)
    for rx in (
        rf"\b(?P<n>{NUM}|an?)[\s-]*{_UNIT}[\s-]+(?:ahead|forward|out\b|horizons?|hold(?:ing)?(?:\s+period)?|"
        r"(?:forward\s+|ahead\s+)?returns?|predictions?|forecasts?|targets?|moves?|changes?|direction|labels?)",
        rf"\bhorizons?\s*(?:of|is|=|:|at|to)?\s*(?P<n>{NUM})(?:[\s-]*{_UNIT})?",
        rf"\b(?:(?:over|for|across|within|in)\s+)?the\s+(?:next|coming|following)\s+(?:(?P<n>{NUM})\s+)?{_UNIT}",
        rf"\b(?P<n>{NUM})\s+{_UNIT}\s+(?:from\s+now|into\s+the\s+future|later)",
        rf"\b(?:predict|forecast)\w*\s+(?:\w+\s+){{0,4}}?(?P<n>{NUM})[\s-]*{_UNIT}\s+(?:ahead|out|forward)",
        rf"\bnext[\s-]+{_UNIT}(?:'s)?\b",
        rf"\b(?:over|for|at|with)\s+(?:a|an|the)?\s*(?P<n>{NUM})[\s-]*{_UNIT}\b(?!\s+(?:of|lookback|window))",
        r"\b(?P<tomorrow>tomorrow(?:'s)?|next[\s-]day|one[\s-]day[\s-]ahead|overnight)\b",
    )
)
_COST_WHAT = (
    r"(?P<what>commissions?|fees?|slippage|(?:transaction|trading|round[\s-]trip)?\s*costs?|"
    r"cost)"
)
_COST_PATTERNS = tuple(
    re.compile(rx, re.I)
    for rx in (
        rf"\b(?P<n>\d+(?:\.\d+)?)\s*(?:(?P<bps>bps|bp|basis\s+points?)|(?P<pct>%|percent))\s*"
        rf"(?:of\s+|in\s+|for\s+)?{_COST_WHAT}",
        rf"\b{_COST_WHAT}\s*(?:of|at|=|:|is|are)?\s*(?P<n>\d+(?:\.\d+)?)\s*"
        r"(?:(?P<bps>bps|bp|basis\s+points?)|(?P<pct>%|percent))",
    )
)
_NO_COSTS_RE = re.compile(
    r"\b(?:no|zero|without(?:\s+any)?|ignor(?:e|ing)|free\s+of)\s+(?:transaction\s+|trading\s+)?"
    r"(?:costs?|fees|commissions?|slippage)\b|\b(?:frictionless|costless|cost[\s-]free)\b",
    re.I,
)
_WINDOW_PATTERNS = (
    ("expanding", re.compile(r"\bexpanding(?:\s+(?:training\s+)?window)?\b", re.I)),
    (
        "rolling",
        re.compile(
            rf"\brolling(?:\s+(?:training\s+)?window)?(?:\s+of)?\s+(?P<n>{NUM})[\s-]*(?P<u>bars?|days?|"
            r"years?|months?)\b",
            re.I,
        ),
    ),
    (
        "rolling",
        re.compile(
            rf"\b(?P<n>{NUM})[\s-]*(?P<u>bars?|days?|years?|months?)\s+(?:rolling\s+|training\s+)+"
            r"(?:window)?",
            re.I,
        ),
    ),
)
_REFIT_RE = re.compile(
    rf"\b(?:refit|retrain|re-fit|re-train)(?:ting|ing|ed)?\s+(?:the\s+model\s+)?(?:every\s+(?P<n>{NUM})?\s*"
    r"(?P<u>bars?|days?|weeks?|months?|quarters?|years?)|(?P<w>daily|weekly|monthly|quarterly|"
    r"annually|yearly))",
    re.I,
)
_FOLDS_RE = re.compile(
    rf"\b(?:max(?:imum)?[_\s]*folds?\s*(?:=|of|:)?\s*(?P<a>\d+)|(?:only|just|last|the\s+last)\s+"
    rf"(?P<b>{NUM})\s+folds?|(?P<c>\d+)\s+folds?\s+only)\b",
    re.I,
)
_FEATURES_PATTERNS = (
    ("macro", re.compile(r"\bmacro(?:economic)?\s+features?\b|\bwith\s+macro\b", re.I)),
    (
        "returns",
        re.compile(
            r"\breturns?[\s-]only\b|\bonly\s+(?:lagged\s+)?returns\b|\bjust\s+returns\b", re.I
        ),
    ),
    ("basic", re.compile(r"\bbasic\s+features?\b", re.I)),
)
_DELAY_RE = re.compile(
    rf"\b(?:execution\s+delay|delay)\s*(?:of|=|:)?\s*(?P<n>{NUM})\s*(?:bars?|days?)?\b|"
    rf"\b(?P<m>{NUM})[\s-]*bars?\s+(?:execution\s+)?delay\b|"
    r"\b(?P<zero>no\s+execution\s+delay|same[\s-]bar\s+execution|trade\s+at\s+the\s+same\s+close)\b",
    re.I,
)
_THRESHOLD_RE = re.compile(r"\bthreshold(?:ed)?\s+(?:positions?|rule|entries)\b", re.I)
_BACKGROUND_RE = re.compile(
    r"\bin\s+the\s+background\b|\bqueue\b|\basync(?:hronously)?\b|\bdon'?t\s+wait\b|"
    r"\bwithout\s+waiting\b|\blet\s+it\s+run\b",
    re.I,
)
_REFIT_WORDS = {
    "daily": 1,
    "weekly": 5,
    "monthly": 21,
    "quarterly": 63,
    "annually": 252,
    "yearly": 252,
}
_MODEL_PLACE_RE = re.compile(
    r"\b(?:train|fit|backtest|test|run|try|evaluate|use|using|with|apply)\s+(?:a|an|the|my|some)?\s*"
    r"(?P<name>[a-z][\w+.-]*(?:\s+[a-z][\w+.-]*){0,2}?)\s+(?:model\s+|strategy\s+)?(?:on|for|against|to)\b",
    re.I,
)
_NOT_A_MODEL = frozenset(
    """
    a an the it this that something anything model models strategy strategies trial trials
    backtest test experiment data me us them everything all one both each
    """.split()
)


def _unit_bars(unit: str | None) -> int:
    u = (unit or "day").lower()
    u = re.sub(r"^trading\s+", "", u)
    for key, bars in (
        ("w", BARS_PER["week"]),
        ("mo", BARS_PER["month"]),
        ("q", BARS_PER["quarter"]),
    ):
        if u in (key, key + "s"):
            return bars
    for name, bars in BARS_PER.items():
        if (
            u.startswith(name)
            or (name == "year" and u.startswith("yr"))
            or (name == "week" and u.startswith("wk"))
        ):
            return bars
    return 1


def read_horizon(masked: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Label horizons in bars written in ``masked`` and their spans."""
    found: list[int] = []
    spans: list[tuple[int, int]] = []
    for rx in _HORIZON_PATTERNS:
        for m in rx.finditer(masked):
            if any(a < m.end() and m.start() < b for a, b in spans):
                continue
            groups = m.groupdict()
            if groups.get("tomorrow"):
                value = 1
            else:
                n = groups.get("n")
                count = number_value(n) if n else 1.0
                value = int(round(count * _unit_bars(groups.get("u"))))
            if value >= 1:
                found.append(value)
                spans.append(m.span())
    return found, spans


def read_costs(masked: str) -> tuple[dict[str, float], list[tuple[int, int]]]:
    out: dict[str, float] = {}
    spans: list[tuple[int, int]] = []
    if _NO_COSTS_RE.search(masked):
        m = _NO_COSTS_RE.search(masked)
        assert m is not None
        spans.append(m.span())
        return {"commission_bps": 0.0, "slippage_bps": 0.0}, spans
    for rx in _COST_PATTERNS:
        for m in rx.finditer(masked):
            if any(a < m.end() and m.start() < b for a, b in spans):
                continue
            bps = float(m["n"]) * (100.0 if m["pct"] else 1.0)
            what = (m["what"] or "").lower()
            if "slippage" in what:
                out["slippage_bps"] = bps
            elif "commission" in what or "fee" in what:
                out["commission_bps"] = bps
            else:  # "5 bps costs": the whole cost per trade side
                out.setdefault("commission_bps", bps)
                out.setdefault("slippage_bps", 0.0)
            spans.append(m.span())
    return out, spans


def trial_slots(t: Tagged, *, intent: str) -> Slots:
    """Settings of a walk-forward trial (train, compare, tune)."""
    s = Slots()
    v = s.values
    masked = t.masked
    models = t.models
    ids = t.model_ids()
    if intent == "compare":
        if len(ids) >= 2:
            v["model_ids"] = ids
            params = [m.params for m in models if m.params]
            if params:
                s.notes.append(
                    "windows given for a compared model are not applied to the comparison"
                )
        elif len(ids) == 1:
            s.problems.append(
                Problem("model_ids", f"Compare {ids[0]} with which other model(s)?", [ids[0]])
            )
        else:
            s.problems.append(Problem("model_ids", "Which models should I compare?"))
    else:
        if len(ids) == 1:
            v["model_id"] = ids[0]
            merged: dict[str, Any] = {}
            for mention in models:
                merged.update(mention.params)
            if merged:
                v["params"] = {k: _int_if_whole(x) for k, x in merged.items()}
        elif len(ids) >= 2:
            s.problems.append(
                Problem(
                    "model_id",
                    f"You named {len(ids)} models ({', '.join(ids)}); should I compare them?",
                    ids,
                )
            )
        else:
            name = _model_place(masked)
            s.problems.append(Problem("model_id", "Which model should I train?", []))
            if name:
                s.values["_unknown_model"] = name
    symbol_slots(t, s)
    if t.dates.conflict:
        s.problems.append(Problem("dates", f"{t.dates.conflict}: which period should I use?"))
    if t.dates.start:
        v["start"] = t.dates.start
    if t.dates.end:
        v["end"] = t.dates.end
    if t.dates.last:
        v["last"] = list(t.dates.last)
    horizons, h_spans = read_horizon(masked)
    distinct = list(dict.fromkeys(horizons))
    if len(distinct) == 1:
        v["horizon"] = distinct[0]
    elif len(distinct) > 1:
        shown = " or ".join(f"{h} bars" for h in distinct)
        s.problems.append(
            Problem("horizon", f"Which horizon: {shown}?", [str(h) for h in distinct])
        )
    rest = _blank(masked, h_spans)
    costs, c_spans = read_costs(rest)
    v.update(costs)
    rest = _blank(rest, c_spans)
    for kind, rx in _WINDOW_PATTERNS:
        m = rx.search(rest)
        if m is None:
            continue
        v["window"] = kind
        if kind == "rolling":
            v["window_size"] = int(number_value(m["n"]) * _unit_bars(m["u"]))
        break
    m = _REFIT_RE.search(rest)
    if m:
        if m["w"]:
            v["refit_every"] = _REFIT_WORDS[m["w"].lower()]
        else:
            v["refit_every"] = int((number_value(m["n"]) if m["n"] else 1) * _unit_bars(m["u"]))
    m = _FOLDS_RE.search(rest)
    if m:
        v["max_folds"] = int(number_value(m["a"] or m["b"] or m["c"]))
    for kind, rx in _FEATURES_PATTERNS:
        if rx.search(rest):
            v["feature_set"] = kind
            break
    m = _DELAY_RE.search(rest)
    if m:
        v["execution_delay"] = 0 if m["zero"] else int(number_value(m["n"] or m["m"]))
    _position_rule(t, s)
    if _BACKGROUND_RE.search(t.text) and intent == "train":
        v["background"] = True
    prose, _errors = read_prose_params(rest)
    for key in ("source", "lookback", "epochs", "learning_rate", "train_ratio", "stop_loss"):
        if key in prose:
            v[key] = prose[key]
    if "timeframes" in prose:
        v["timeframes"] = prose["timeframes"]
    return s


def _position_rule(t: Tagged, s: Slots) -> None:
    v = s.values
    mid = v.get("model_id")
    if t.vol_target:
        v["position_rule"] = "vol_target"
    elif _THRESHOLD_RE.search(t.masked):
        v["position_rule"] = "threshold"
    if t.long_only:
        if isinstance(mid, str) and mid.endswith("long_only"):
            return  # the long-only variant of the model was chosen
        if (
            isinstance(mid, str)
            and any(m.family is not None and m.id == mid for m in t.models)
            and _takes_long_only(mid)
        ):
            v.setdefault("params", {})["long_only"] = True
        else:
            v["position_rule"] = "long_only"


def _takes_long_only(mid: str) -> bool:
    return mid.startswith(
        ("ma_crossover", "ema_crossover", "tsmom", "rsi", "bollinger", "donchian", "macd")
    )


def _model_place(masked: str) -> str | None:
    """The name in a model's place that is not a known model ("train a randm forest on...")."""
    for m in _MODEL_PLACE_RE.finditer(masked):
        words = [w for w in m["name"].split() if w.lower() not in _NOT_A_MODEL]
        if words:
            return " ".join(words)
    return None


def symbol_slots(
    t: Tagged, s: Slots, *, key: str = "symbol", exclude: tuple[str, ...] = ("FF3",)
) -> None:
    syms = t.symbol_ids(exclude=exclude)
    if len(syms) == 1:
        s.values[key] = syms[0]
    elif len(syms) > 1:
        s.problems.append(Problem(key, f"Which symbol: {' or '.join(syms)}?", syms))
    elif t.near_symbols:
        token, close = t.near_symbols[0]
        hint = f", did you mean {' or '.join(close)}?" if close else ""
        s.problems.append(Problem(key, f"unknown symbol '{token}'{hint}", close))
    else:
        s.problems.append(
            Problem(
                key,
                "Which symbol? For example SPX, AAPL, MSFT or KO ('which symbols can I use?' lists them all).",
            )
        )


# -- listings -------------------------------------------------------------------------------------
_TASKS = (
    ("volatility", r"\bvol(?:atility)?\b|\bgarch\b|\bvariance\b"),
    ("classification", r"\bclassif\w*|\bdirection(?:al)?\b|\bup\s+or\s+down\b"),
    ("regression", r"\bregress(?:ion|ors?)\b"),
    ("forecast", r"\bforecast\w*|\btime[\s-]series\b|\barima\b|\bstatsmodels\b"),
    (
        "strategy",
        r"\bstrateg\w*|\btrading\s+rules?\b|\brules?[\s-]based\b|\btechnical\b|\bregimes?\b",
    ),
    ("pricing", r"\bpricing\b|\boptions?\b"),
    ("portfolio", r"\bportfolios?\b|\ballocation\b|\boptimi[sz]ers?\b"),
    ("risk", r"\brisk\b"),
)
_FAMILIES = (
    ("lightgbm", r"\blight\s*gbm\b|\blgbm\b"),
    ("xgboost", r"\bxg\s*boost\b|\bxgb\b"),
    ("catboost", r"\bcat\s*boost\b"),
    ("linear", r"\blinear\b"),
    ("svm", r"\bsvms?\b|\bsupport\s+vector"),
    ("neighbors", r"\bneighbou?rs?\b|\bknn\b"),
    ("neural_net", r"\bneural\b|\bmlps?\b"),
    ("deep", r"\bdeep\b|\blstms?\b|\btransformers?\b|\bgrus?\b|\btcns?\b"),
    ("ensemble", r"\bensembles?\b|\brandom\s+forests?\b"),
    ("regime", r"\bregimes?\b|\bhmms?\b|\bhidden\s+markov\b"),
    ("rule_strategy", r"\btrading\s+rules?\b|\brules?[\s-]based\b|\btechnical\b|\bmomentum\b"),
    ("arch_volatility", r"\bgarch\b"),
    ("statsmodels_forecast", r"\barima\b"),
)
_BOOSTING_RE = re.compile(r"\bboost(?:ing|ers?|ed)?\b", re.I)


def list_models_slots(t: Tagged) -> Slots:
    s = Slots()
    low = t.text.lower()
    family = next((f for f, rx in _FAMILIES if re.search(rx, low)), None)
    if family is not None:
        s.values["family"] = family
        return s
    if _BOOSTING_RE.search(low):
        s.values["topic"] = "boosting"
        return s
    task = next((k for k, rx in _TASKS if re.search(rx, low)), None)
    if task is not None:
        s.values["task"] = task
    return s


TOPICS: dict[str, tuple[str, str]] = {
    # topic -> (what the user's words look like, what matches a catalogue row)
    "interest_rates": (
        r"\binterest\s+rates?\b|\brates\b|\byields?\b|\bbonds?\b|\bcredit\b|\btreasur(?:y|ies)\b|\bt[\s-]?bills?\b",
        r"yield|tbilrate|realint",
    ),
    "inflation": (r"\binflation\b|\bcpi\b|\bconsumer\s+prices\b", r"cpi|infl"),
    "oil": (r"\boil\b|\bcrude\b|\benergy\b|\bcommodit(?:y|ies)\b|\bwti\b", r"crude|wti"),
    "currencies": (
        r"\bfx\b|\bforex\b|\bcurrenc(?:y|ies)\b|\bexchange\s+rates?\b|\beuro\b",
        r"EUR/USD|currenc",
    ),
    "crypto": (r"\bcrypto\w*\b|\bbitcoin\b|\bbtc\b", r"bitcoin"),
    "indices": (r"\bindex(?:es)?\b|\bindices\b", r"\bindex\b|composite"),
    "volatility": (r"\bvix\b|\bvolatility\s+index\b", r"vix"),
    "macro": (
        r"\bmacro\w*\b|\beconom(?:y|ic|ics)\b|\bgdp\b|\bunemployment\b|\bmoney\s+supply\b",
        r"US macro|FRED",
    ),
    "factors": (r"\bfactors?\b|\bfama\b", r"fama"),
    "stocks": (
        r"\bstocks?\b|\bequit(?:y|ies)\b|\bshares\b|\bcompanies\b|\bsingle\s+names\b",
        r"daily adjusted close|Alphabet",
    ),
    "hourly": (r"\bhourly\b|\bintraday\b", r"hourly"),
    "monthly": (r"\bmonthly\b", r"monthly|\(monthly"),
}


def list_symbols_slots(t: Tagged) -> Slots:
    s = Slots()
    low = t.text.lower()
    for topic, (words, _rows) in TOPICS.items():
        if re.search(words, low):
            s.values["topic"] = topic
            break
    syms = t.symbol_ids()
    if syms and "topic" not in s.values:
        s.values["symbols"] = syms  # "is MSFT in the data?"
    return s


def list_trials_slots(t: Tagged) -> Slots:
    s = Slots()
    ids = t.model_ids()
    syms = t.symbol_ids()
    if len(ids) == 1:
        s.values["model_id"] = ids[0]
    if len(syms) == 1:
        s.values["symbol"] = syms[0]
    m = re.search(
        r"\b(?:last|latest|recent|past)\s+(\d+|\w+)\s+(?:trials|backtests|experiments)\b",
        t.text,
        re.I,
    )
    if m:
        with contextlib.suppress(ValueError):
            s.values["limit"] = int(number_value(m[1]))
    return s


_TRIAL_ID_RE = re.compile(
    r"\b(trial_\d{8}_\d{6}_[0-9a-f]+)\b|\btrial[\s_]+(\d{8}_\d{6}_[0-9a-f]+)\b"
)
_LATEST_RE = re.compile(
    r"\b(?:last|latest|previous|most\s+recent|just\s+(?:ran|started|run)|my)\b", re.I
)


def trial_id_slots(t: Tagged, known_trials: list[str]) -> Slots:
    s = Slots()
    m = _TRIAL_ID_RE.search(t.text)
    if m:
        s.values["trial_id"] = m[1] or f"trial_{m[2]}"
    elif known_trials and _LATEST_RE.search(t.text):
        s.values["trial_id"] = known_trials[-1]
    else:
        s.problems.append(
            Problem("trial_id", "Which trial? Give its id (trial_YYYYMMDD_HHMMSS_xxxxxx).")
        )
    return s


_GOAL_LEAD_RE = re.compile(
    r"^\s*(?:(?:please\s+)?(?:set|new|change|update|make)\s+(?:the\s+|our\s+|my\s+|a\s+)?(?:research\s+)?"
    r"(?:goal|target|objective)(?:\s+(?:to|as|of))?\s*[:\-]?\s*(?:be\s+)?"
    r"|(?:my|our|the)\s+(?:research\s+)?(?:goal|target|aim|objective)\s*(?:is|:|should\s+be|will\s+be)?\s*(?:to\s+)?(?:be\s+)?"
    r"|(?:goal|target|aim|objective)\s*[:\-]\s*"
    r"|let\s+the\s+goal\s+be\s+|aim\s+for\s+|target\s+|i\s+want\s+(?:to\s+)?|we\s+want\s+(?:to\s+)?|we\s+need\s+"
    r"|i'?m\s+looking\s+for\s+|we'?re\s+after\s+|i'?d\s+like\s+(?:to\s+find\s+)?|find\s+me\s+)",
    re.I,
)


def goal_text(text: str) -> Slots:
    """The goal as the user wrote it, without the lead-in ("my goal is ...")."""
    s = Slots()
    body = _GOAL_LEAD_RE.sub("", text.strip(), count=1).strip().rstrip(".!")
    if not body:
        s.problems.append(
            Problem(
                "text", "What is the goal? For example: 'Sharpe above 1 on SPX over 7-12 days'."
            )
        )
    else:
        s.values["text"] = body
    return s


_MEMORY_LEAD_RE = re.compile(
    r"^\s*(?:(?:can\s+you\s+|please\s+)?(?:remind\s+me\s+(?:of\s+)?(?:what\s+)?(?:we\s+)?(?:found|learned|learnt|did|know|saw|concluded)?"
    r"|what\s+(?:did|do|have)\s+we\s+(?:already\s+)?(?:find(?:\s+out)?|found(?:\s+out)?|learned|learnt|learn|know|concluded|conclude|discovered|discover|remember|see|tried|try)"
    r"|what\s+(?:were|are)\s+(?:our|the)\s+(?:conclusions?|findings|notes|results)"
    r"|what\s+happened\s+(?:(?:the\s+)?last\s+time\s+)?(?:with|to|when)?\s*(?:we\s+(?:tried|ran|tested|used))?"
    r"|what\s+came\s+out\s+of|what\s+results\s+do\s+we\s+have"
    r"|anything\s+(?:we\s+(?:learned|learnt|found|know)|in\s+memory|on\s+record)|any\s+(?:notes|findings)"
    r"|search\s+(?:our\s+)?(?:memory|history|notes)(?:\s+for)?|memory\s+search\s*:?|look\s+(?:up|back\s+at)\s+(?:our\s+)?(?:notes\s+)?(?:on|at)?"
    r"|recall(?:\s+(?:our\s+)?(?:findings|results|anything|what\s+we\s+(?:did|found)))?"
    r"|remember\s+what\s+happened\s+with|have\s+we\s+(?:ever\s+)?(?:tried|tested|looked\s+at)|did\s+we\s+(?:ever\s+)?(?:try|test)"
    r"|tell\s+me\s+what\s+we\s+(?:discovered|found|learned))"
    r"(?:\s+(?:about|on|for|regarding|with))?)\s*",
    re.I,
)
_MEMORY_TAIL_RE = re.compile(
    r"\s*(?:so\s+far|before|already|earlier|previously|last\s+time|again)?\s*[?.!]*\s*$", re.I
)


def memory_query(text: str) -> Slots:
    s = Slots()
    body = _MEMORY_LEAD_RE.sub("", text.strip(), count=1)
    body = _MEMORY_TAIL_RE.sub("", body)
    body = re.sub(r"^(?:the|our|any)\s+", "", body.strip(), flags=re.I).strip(" ,:;")
    if not body or body.lower() in ("so far", "everything", "anything"):
        body = text.strip().rstrip("?.! ")
    s.values["query"] = body.lower()
    s.values["k"] = 5
    return s


_RESEARCH_ARGS = (
    (
        "max_trials",
        re.compile(r"\b(\d+)\s*(?:optuna\s+)?trials?\b|\bmax(?:imum)?\s+(\d+)\s+trials?\b", re.I),
        int,
    ),
    (
        "max_minutes",
        re.compile(
            rf"\b(?P<n>{NUM})\s*(?P<u>min(?:ute)?s?|h(?:ours?|rs?)?)\b|\b(?:an|one)\s+(?P<h>hour)\b",
            re.I,
        ),
        float,
    ),
    ("max_folds", re.compile(r"\b(\d+)\s*folds?\b", re.I), int),
    ("workers", re.compile(r"\b(\d+)\s*workers?\b", re.I), int),
)


def research_slots(t: Tagged) -> Slots:
    s = Slots()
    syms = t.symbol_ids()
    if len(syms) == 1:
        s.values["symbol"] = syms[0]
    elif len(syms) > 1:
        s.problems.append(
            Problem("symbol", f"A search runs on one symbol: {' or '.join(syms)}?", syms)
        )
    low = t.text
    for key, rx, kind in _RESEARCH_ARGS:
        m = rx.search(low)
        if not m:
            continue
        if key == "max_minutes":
            if m.groupdict().get("h"):
                value = 60.0
            else:
                value = number_value(m["n"])
                if m["u"].lower().startswith("h"):
                    value *= 60
            s.values[key] = value
        else:
            s.values[key] = kind(next(g for g in m.groups() if g))
    return s


_RUN_ID_RE = re.compile(r"\b(run_\d{8}_\d{6}_[0-9a-f]+)\b")


def run_id_slots(t: Tagged, last_run: str | None) -> Slots:
    s = Slots()
    m = _RUN_ID_RE.search(t.text)
    if m:
        s.values["run_id"] = m[1]
    elif last_run:
        s.values["run_id"] = last_run
    return s


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


def _int_if_whole(x: Any) -> Any:
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x
