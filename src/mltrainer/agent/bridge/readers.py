"""The readers shared by the bridge and the offline planner: symbols, models, numbers, dates.

Everything that turns a piece of text into a value lives here, once, so the bridge (which
reads a language model's reply) and the planner (which reads the user's message) agree
on what "a 10 day horizon", "from 2010 to 2016", "RF" or "S&P 500" mean.

* :class:`Vocabulary` resolves symbols (through the catalogue's resolver) and models
  (registry ids, aliases, families, near-certain typos), finds them in prose, and says
  "unknown model 'X'; did you mean ...?" with :mod:`difflib` suggestions.
* The value normalisers (:data:`NORMALISERS`, :func:`to_start`, :func:`to_end`,
  :func:`read_timeframes`...) check units and ranges and raise :class:`Invalid` with a
  user-facing message; nothing is guessed.
* :func:`read_prose_params` reads trial parameters written in sentences ("a lookback of
  60 days", "between 2008 and 2014", "data_source polygon").
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ...errors import MLTrainerError

__all__ = [
    "Invalid",
    "IdIndex",
    "Vocabulary",
    "MODEL_ALIASES",
    "FAMILY_PREFIXES",
    "SYMBOL_STOPWORDS",
    "NORMALISERS",
    "MARKDOWN_RE",
    "WORD_TOKEN_RE",
    "norm_key",
    "norm_id",
    "fragment",
    "unique",
    "unique_values",
    "hint",
    "strip_parens",
    "clean_name",
    "split_list",
    "read_number",
    "positive_int",
    "to_date",
    "to_start",
    "to_end",
    "read_date_range",
    "read_timeframes",
    "read_source",
    "check_dates",
    "read_prose_params",
    "timeframe_mentions",
]

# -- models ------------------------------------------------------------------------------------
MODEL_ALIASES = {
    "lgbm": "lightgbm",
    "lgb": "lightgbm",
    "xgb": "xgboost",
    "rf": "random_forest",
    "rfc": "random_forest_classifier",
}
# "lstm" means the first registry id that is "lstm" or starts with "lstm_". Only these
# single words act as families; most single words ("random", "linear") are too vague.
FAMILY_PREFIXES = (
    "lstm",
    "gru",
    "tcn",
    "transformer",
    "mlp",
    "knn",
    "svr",
    "adaboost",
    "garch",
    "egarch",
    "aparch",
    "figarch",
    "harch",
    "arima",
    "sarima",
    "autoreg",
    "holt",
    "hmm",
    "tsmom",
)
# Trailing words dropped from a model name before a second lookup: "ridge regression".
_MODEL_SUFFIX_WORDS = frozenset(
    {
        "model",
        "models",
        "regression",
        "regressor",
        "network",
        "networks",
        "neural",
        "net",
        "nn",
        "based",
        "algorithm",
        "algo",
        "approach",
        "method",
        "strategy",
    }
)
# Model-name forms too ambiguous to count as a mention in prose (RF is also the
# risk-free rate); they still work in explicit fields.
_PROSE_EXCLUDED_FORMS = frozenset({("rf",), ("rfc",), ("lgb",), ("ma",), ("lr",)})
_UPPER_ONLY_FORMS = frozenset({("hmm",)})  # "hmm" in lower case is an interjection

# Upper-case words never looked up as symbols in prose.
SYMBOL_STOPWORDS = frozenset(
    """
    A AN THE I ME MY WE US OUR YOU YOUR IT ITS HE SHE THEY FOR ON IN OF TO AT BY AS IS BE
    AND OR NOT NO YES SO IF DO GO UP OUT ALL ANY NEW NOW OK USE USING WITH FROM INTO THAN
    THEN THIS THAT WILL CAN MAY SET RUN TRIAL TRIALS MODEL MODELS CONFIG NOTE TODO WARNING
    IMPORTANT ML AI API JSON CSV URL USD EUR GBP JPY ETF CEO GDP CPI ROI EPS PE RSI MACD ATR
    VAR CVAR SMA EMA OHLC OHLCV NA NAN TBD FAQ
    """.split()
)

_GENERIC_MODEL_WORDS = frozenset(
    """
    a an the this that these those same best better new final trained chosen selected
    current previous above below following baseline base simple basic complex advanced ml
    machine learning deep statistical predictive prediction forecasting forecast trading
    custom default appropriate suitable right proper other another different each every any
    some one first second existing good strong robust your my our their its full whole
    entire original updated improved tuned optimized optimised overall main primary
    proposed recommended suggested time series lookback horizon day days period window data
    risk momentum
    """.split()
)

# -- symbols in prose --------------------------------------------------------------------------
_TICKER_RE = re.compile(r"(?<![\w^$/&.-])\$?(\^?[A-Z][A-Z0-9]*(?:[&/.-][A-Z0-9]+)*)(?![\w&/-])")
_SP500_RE = re.compile(r"\bS&P[\s-]?500\b")
_PRIMARY_CTX_RE = re.compile(
    r"\b(?:on|for|of|in|with|trade|trading|ticker|symbol|stock)\s+"
    r"(?:the\s+)?(?:symbol\s+|ticker\s+|stock\s+)?\$?$",
    re.I,
)

# -- models in prose ---------------------------------------------------------------------------
WORD_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_FORM_SEP_RE = re.compile(r"[ \t_-]{1,3}")
_NUMERIC_WORD_RE = re.compile(r"\d+(?:-?days?|d)?", re.I)
_MODEL_PHRASE_RE = re.compile(
    r"\b(?:using|use|with|via|train|training|fit|fitting|run|running|try|trying|recommend|"
    r"suggest|choose|pick|select)\s+(?:(?:a|an|the)\s+)?"
    r"((?:[\w.+-]+\s+){0,2}?[\w.+-]+)\s+model\b",
    re.I,
)

# -- parameters in prose ---------------------------------------------------------------------------
_NOT_TIMEFRAME_CTX_RE = re.compile(r"(?:look[\s_-]?back|horizon)\b[^.;:!?\n]{0,25}$", re.I)
_GAP = (
    r"(?:\s*(?:of|to|at|is|be|about|around|approximately|roughly|set\s+to|equal\s+to|[=:~])"
    r"){0,4}\s*"
)
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?![\d,]?\d|\.\d)"
_FLOAT = r"(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?!\.?\d)"
_PCT = r"\s*(?P<pct>%|percent\b)?"
_NOT_RANGE = r"(?!\s*(?:-|–|—|to)\s*\d)"
_DAYISH = r"(?P<unit>trading\s+days?|days?|bars?|sessions?|weeks?|months?|years?)"
_DATE = r"((?:19|20)\d{2}(?:-\d{2}-\d{2})?)(?!\d)"
_RANGE_UNIT = r"(?P<unit>trading\s+days?|days?|weeks?|months?)\b"
# A data source id named in prose ("data_source random", "--source polygon"); English
# words after "data source" ("which data source is best") are not ids.
_SOURCE_VALUE = (
    r"[\"'`]?(?P<num>(?!(?:is|are|was|were|be|been|do|does|did|has|have|had|for|of|the|a|an|to"
    r"|and|or|but|not|with|that|this|these|which|what|whichever|you|we|i|it|they|in|on|from"
    r"|use|used|uses|here|there|should|would|could|can|will|may|might|must|best|better|good"
    r"|right|available|matters?|works?|gives?|makes?|needs?|as|so|if|then|than)\b)"
    r"[A-Za-z][\w:-]*(?:\.\w+)*)"
)

_PROSE_PARAM_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.I))
    for name, rx in (
        (
            "train_ratio",
            rf"\btrain(?:ing)?[\s_-]*(?:ratio|split|fraction|size)\b{_GAP}{_NUM}{_PCT}",
        ),
        (
            "lookback",
            rf"\blook[\s_-]?back(?:[\s_-]+(?:period|window|length))?\b{_GAP}{_NUM}{_NOT_RANGE}"
            rf"(?:[\s-]*{_DAYISH})?",
        ),
        ("lookback", rf"\b{_NUM}[\s-]*(?:trading[\s-]+)?(?:days?|bars?)[\s-]+look[\s_-]?back\b"),
        ("epochs", rf"\b{_NUM}\s+(?:training\s+)?epochs?\b"),
        ("epochs", rf"\bepochs?\b{_GAP}{_NUM}\b"),
        (
            "horizon",
            rf"\b{_NUM}[\s-]*(?:trading[\s-]+)?(?:days?|bars?)[\s-]+(?:ahead[\s-]+)?"
            rf"(?:forecast(?:ing)?[\s-]+|prediction[\s-]+)?horizon\b",
        ),
        ("horizon", rf"\bhorizon\b{_GAP}{_NUM}{_NOT_RANGE}(?:[\s-]*{_DAYISH})?"),
        ("horizon", rf"\b(?:predict|forecast)\w*\s+{_NUM}\s+(?:trading\s+)?days?\s+ahead\b"),
        ("stop_loss", rf"\bstop[\s_-]?loss(?:es)?\b{_GAP}{_FLOAT}{_PCT}(?!\s*(?:x\b|×|times\b))"),
        ("stop_loss", rf"\b{_FLOAT}\s*(?P<pct>%|percent\b)\s+stop[\s_-]?loss\b"),
        ("learning_rate", rf"\blearning[\s_-]?rate\b{_GAP}{_FLOAT}"),
        # (a literal first, the word boundary checked behind it: fast on long text)
        (
            "source",
            rf"data(?<!\wdata)(?:set)?[\s_-]?sources?\b\s*"
            rf"(?:[=:]\s*|\bis\s+|\bset\s+to\s+|\s+)(?:the\s+)?{_SOURCE_VALUE}",
        ),
        ("source", rf"--source[\s=]+{_SOURCE_VALUE}"),
        ("source", rf"source(?<!\wsource)\s*[=:]\s*{_SOURCE_VALUE}"),
        (
            "timeframes",
            rf"(?<![\d.,/-])(?P<lo>\d{{1,4}})\s*(?:-|–|—|to)\s*(?P<hi>\d{{1,4}})[\s-]*{_RANGE_UNIT}",
        ),
        ("timeframes", rf"\bbetween\s+(?P<lo>\d{{1,4}})\s+and\s+(?P<hi>\d{{1,4}})\s+{_RANGE_UNIT}"),
        ("dates", rf"\bfrom\s+{_DATE}\s*(?:to|until|through|thru|-|–|—)\s*{_DATE}"),
        ("dates", rf"\bbetween\s+{_DATE}\s+and\s+{_DATE}"),
        ("dates", rf"\bsince\s+{_DATE}"),
    )
)

# -- values ----------------------------------------------------------------------------------
MARKDOWN_RE = re.compile(r"\*\*|__|`")
_PARENS_RE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_VALUE_CUT_RE = re.compile(
    r"\s+(?:—|–|-{1,2}|because|since|as|which|for|with|to)\s+|\s*[;|]\s*|\s+#", re.I
)
_LIST_SPLIT_RE = re.compile(r"\s*(?:,|;|\band\b|\bplus\b|&)\s*", re.I)
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_DIGITS_RE = re.compile(r"\d+")
_NUMBER_RE = re.compile(
    r"^\s*(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+"
    r"(?:[eE][-+]?\d+)?)\s*(?P<pct>%|percent\b|pct\b)?\s*-?\s*(?P<unit>[A-Za-z][A-Za-z ]*?)?"
    r"\s*\.?\s*$"
)
_RANGE_RE = re.compile(
    r"^\s*(\d{1,4})\s*(?:-|–|—|to|\.\.)\s*(\d{1,4})\s*-?\s*([A-Za-z][A-Za-z ]*?)?\s*$", re.I
)
_BETWEEN_RE = re.compile(r"\bbetween\s+(\d{1,4})\s+and\s+(\d{1,4})", re.I)
_DATE_VALUE_RE = re.compile(
    r"^\s*((?:19|20)\d{2})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?(?:[T ][\d:.+Z-]*)?\s*$"
)
_DATE_RANGE_RE = re.compile(
    r"^\s*(?:from\s+|between\s+)?(\S+?)\s*(?:\bto\b|\buntil\b|\bthrough\b|\band\b|–|—|\s-\s)"
    r"\s*(\S+)\s*$",
    re.I,
)
_YEAR_RANGE_RE = re.compile(r"^\s*((?:19|20)\d{2})\s*[-–—]\s*((?:19|20)\d{2})\s*$")
_DAY_UNITS = frozenset(
    {"", "d", "day", "days", "trading day", "trading days", "bar", "bars", "session", "sessions"}
)
_TIME_UNITS = {
    "": "days",
    "d": "days",
    "day": "days",
    "days": "days",
    "trading day": "days",
    "trading days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}

_MAX_FRAGMENT = 200
_MAX_STEPS = {"lookback": 10_000, "epochs": 100_000, "horizon": 10_000}


# -- small helpers ---------------------------------------------------------------------------
class Invalid(Exception):
    """A value could not be used; carries a user-facing message and suggestions."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions)


def norm_key(key: str) -> str:
    return _NON_ALNUM_RE.sub("_", _PARENS_RE.sub("", key).lower()).strip("_")


def norm_id(text: str) -> str:
    return _NON_ALNUM_RE.sub("_", text.lower()).strip("_")


def fragment(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_FRAGMENT else text[: _MAX_FRAGMENT - 3] + "..."


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def unique_values(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def hint(suggestions: Sequence[str]) -> str:
    return f"; did you mean {', '.join(suggestions)}?" if suggestions else ""


def strip_parens(text: str) -> str:
    return _PARENS_RE.sub("", text).strip()


def clean_name(value: str) -> str:
    """A symbol or model name out of free text: "LSTM (long short-term memory)" -> LSTM."""
    s = _VALUE_CUT_RE.split(strip_parens(MARKDOWN_RE.sub("", value)), maxsplit=1)[0]
    return s.strip().strip("\"'*_").strip().rstrip(".,;:!").strip()


def split_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [p for p in _LIST_SPLIT_RE.split(strip_parens(value)) if p.strip()]
    return [value]


# -- value normalisers -----------------------------------------------------------------------
def read_number(name: str, value: Any) -> tuple[float, bool, str]:
    """(number, given as a percentage, unit words) or :class:`Invalid`."""
    if isinstance(value, bool):
        raise Invalid(f"{name} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        number, pct, unit = float(value), False, ""
    elif isinstance(value, str) and (m := _NUMBER_RE.match(strip_parens(value))):
        number = float(m["num"].replace(",", ""))
        pct, unit = bool(m["pct"]), " ".join((m["unit"] or "").lower().split())
    else:
        raise Invalid(f"{name} must be a number, got {value!r}")
    if not math.isfinite(number):
        raise Invalid(f"{name} must be a finite number, got {value!r}")
    return number, pct, unit


def positive_int(name: str, value: Any) -> int:
    """A whole number of days/bars (``lookback``, ``horizon``) or of ``epochs``."""
    number, pct, unit = read_number(name, value)
    allowed = _DAY_UNITS | ({"epoch", "epochs"} if name == "epochs" else set())
    if pct or unit not in allowed:
        what = "a whole number" if name == "epochs" else "a whole number of days (bars)"
        raise Invalid(f"{name} must be {what}, got {value!r}")
    if number != int(number):
        raise Invalid(f"{name} must be a whole number, got {value!r}")
    limit = _MAX_STEPS[name]
    if not 1 <= number <= limit:
        raise Invalid(f"{name} must be between 1 and {limit}, got {int(number)}")
    return int(number)


def _fraction(
    name: str, value: Any, *, percent_hint: bool = True, allow_one: bool = False
) -> float:
    number, pct, unit = read_number(name, value)
    if unit:
        raise Invalid(f"{name} must be a plain number or a percentage, got {value!r}")
    if pct:
        number /= 100
    number = round(number, 12)
    if 0 < number < 1 or (allow_one and number == 1):
        return number
    if percent_hint and not pct and 1 < number < 100:
        as_fraction = f"{round(number / 100, 12):g}"
        raise Invalid(
            f"{name} must be a fraction between 0 and 1, got {value!r}; "
            f"write {as_fraction} or {number:g}%",
            [as_fraction],
        )
    upper = "1" if allow_one else "1 (exclusive)"
    raise Invalid(f"{name} must be between 0 (exclusive) and {upper}, got {value!r}")


def _train_ratio(value: Any) -> float:
    return _fraction("train_ratio", value)


def _stop_loss(value: Any) -> float:
    return _fraction("stop_loss", value)


def _learning_rate(value: Any) -> float:
    return _fraction("learning_rate", value, percent_hint=False, allow_one=True)


def to_date(name: str, value: Any, *, end: bool) -> str:
    """An ISO date; a bare year is 1 January (``end=False``) or 31 December (``end=True``)."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    m = _DATE_VALUE_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD or a year), got {value!r}")
    year = int(m[1])
    try:
        if m[3]:
            return dt.date(year, int(m[2]), int(m[3])).isoformat()
        if m[2]:
            month = int(m[2])
            day = calendar.monthrange(year, month)[1] if end else 1
            return dt.date(year, month, day).isoformat()
    except ValueError as exc:
        raise Invalid(f"{name} is not a valid date: {value!r} ({exc})") from None
    return dt.date(year, 12, 31).isoformat() if end else dt.date(year, 1, 1).isoformat()


def to_start(value: Any) -> str:
    return to_date("start", value, end=False)


def to_end(value: Any) -> str:
    return to_date("end", value, end=True)


def read_date_range(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        lo, hi = value.get("start"), value.get("end")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = value
    elif isinstance(value, str) and (
        m := _YEAR_RANGE_RE.match(value) or _DATE_RANGE_RE.match(strip_parens(value))
    ):
        lo, hi = m[1], m[2]
    else:
        raise Invalid(f"date range must look like '2010-01-01 to 2012-06-30', got {value!r}")
    out = {}
    if lo is not None:
        out["start"] = to_start(lo)
    if hi is not None:
        out["end"] = to_end(hi)
    return out


def _one_timeframe(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        lo, hi, unit = item.get("min"), item.get("max"), item.get("unit", "days")
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        (lo, hi), unit = item, "days"
    elif isinstance(item, str) and (m := _RANGE_RE.match(strip_parens(item))):
        lo, hi, unit = m[1], m[2], m[3] or ""
    elif isinstance(item, str) and (m := _NUMBER_RE.match(strip_parens(item))) and not m["pct"]:
        lo = hi = m["num"]
        unit = m["unit"] or ""
    else:
        raise Invalid(f"a timeframe must look like '7-12 days', got {item!r}")
    unit_key = " ".join(str(unit).lower().split())
    if unit_key not in _TIME_UNITS:
        raise Invalid(f"timeframe unit must be days, weeks, months or years, got {unit!r}")
    low = _timeframe_bound(lo, item)
    high = _timeframe_bound(hi, item)
    if low > high:
        raise Invalid(f"timeframe minimum {low} is above its maximum {high}")
    return {"min": low, "max": high, "unit": _TIME_UNITS[unit_key]}


def _timeframe_bound(value: Any, item: Any) -> int:
    try:
        number, pct, unit = read_number("timeframe", value)
    except Invalid:
        raise Invalid(f"a timeframe must look like '7-12 days', got {item!r}") from None
    if pct or unit or number != int(number) or number < 1:
        raise Invalid(f"timeframe bounds must be positive whole numbers, got {item!r}")
    return int(number)


def read_timeframes(value: Any) -> list[dict[str, Any]]:
    """``"7-12 days, 50-70 days"`` (or lists, or mappings) -> ``[{"min", "max", "unit"}]``."""
    if isinstance(value, str):
        items: list[Any] = split_list(_BETWEEN_RE.sub(r"\1-\2", value))
    elif isinstance(value, (list, tuple)) and not (
        len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    ):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise Invalid("timeframes is empty")
    out: list[dict[str, Any]] = []
    for item in items:
        tf = _one_timeframe(item)
        if tf not in out:
            out.append(tf)
    return out


def read_source(value: Any) -> str:
    """A requested data source, kept exactly as written (ids are case-sensitive) so the
    compliance gateway decides on it; never dropped or replaced here."""
    if value is None or isinstance(value, (dict, list, tuple)):
        raise Invalid(f"a data source must be a source id such as 'bundled', got {value!r}")
    text = clean_name(str(value)) if isinstance(value, str) else str(value)
    if not text:
        raise Invalid(f"a data source must be a source id such as 'bundled', got {value!r}")
    return text


NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "source": read_source,
    "train_ratio": _train_ratio,
    "lookback": lambda v: positive_int("lookback", v),
    "epochs": lambda v: positive_int("epochs", v),
    "horizon": lambda v: positive_int("horizon", v),
    "stop_loss": _stop_loss,
    "learning_rate": _learning_rate,
    "timeframes": read_timeframes,
    "start": to_start,
    "end": to_end,
    "date_range": read_date_range,
}
"""Canonical parameter name -> the function that checks and normalises its value."""


def check_dates(params: Mapping[str, Any], start_key: str = "start", end_key: str = "end") -> None:
    start, end = params.get(start_key), params.get(end_key)
    if isinstance(start, str) and isinstance(end, str) and start >= end:
        raise Invalid(f"start {start} must be before end {end}")


# -- parameters in prose -----------------------------------------------------------------------
def read_prose_params(text: str) -> tuple[dict[str, Any], list[tuple[Invalid, str]]]:
    """Trial parameters written in sentences, and the problems found (with the snippet).

    One value per parameter: two different values for the same one are a problem
    ("conflicting values"), never a choice.
    """
    params: dict[str, Any] = {}
    errors: list[tuple[Invalid, str]] = []
    scalars: dict[str, list[tuple[Any, str]]] = {}
    timeframes: list[dict[str, Any]] = []
    for name, rx in _PROSE_PARAM_PATTERNS:
        for m in rx.finditer(text):
            snippet = m.group()
            try:
                if name == "timeframes":
                    if _NOT_TIMEFRAME_CTX_RE.search(text, max(0, m.start() - 30), m.start()):
                        continue  # "a lookback of 60-90 days" is not a timeframe
                    raw = f"{m['lo']}-{m['hi']} {m['unit']}"
                    for tf in read_timeframes(raw):
                        if tf not in timeframes:
                            timeframes.append(tf)
                elif name == "dates":
                    start = to_start(m.group(1))
                    has_end = bool(m.lastindex and m.lastindex >= 2 and m.group(2))
                    end = to_end(m.group(2)) if has_end else None
                    scalars.setdefault("start", []).append((start, snippet))
                    if end is not None:
                        scalars.setdefault("end", []).append((end, snippet))
                else:
                    groups = m.groupdict()
                    raw = groups["num"] + ("%" if groups.get("pct") else "")
                    if groups.get("unit"):
                        raw += " " + groups["unit"]
                    value = NORMALISERS[name](raw)
                    scalars.setdefault(name, []).append((value, snippet))
            except Invalid as exc:
                errors.append((exc, fragment(snippet)))
    for name, found in scalars.items():
        values = unique(json.dumps(v) for v, _s in found)
        if len(values) > 1:
            shown = ", ".join(str(v) for v in unique_values(v for v, _s in found))
            errors.append(
                (Invalid(f"the reply gives conflicting values for {name}: {shown}"), found[0][1])
            )
        else:
            params[name] = found[0][0]
    if timeframes:
        params["timeframes"] = timeframes
    try:
        check_dates(params)
    except Invalid as exc:
        errors.append((exc, ""))
    return params, errors


def timeframe_mentions(text: str) -> list[tuple[int, dict[str, Any]]]:
    """Timeframes in prose with their positions, read by the same patterns as the params."""
    out: list[tuple[int, dict[str, Any]]] = []
    for name, rx in _PROSE_PARAM_PATTERNS:
        if name != "timeframes":
            continue
        for m in rx.finditer(text):
            if _NOT_TIMEFRAME_CTX_RE.search(text, max(0, m.start() - 30), m.start()):
                continue
            with contextlib.suppress(Invalid):
                out += [
                    (m.start(), tf) for tf in read_timeframes(f"{m['lo']}-{m['hi']} {m['unit']}")
                ]
    return sorted(out, key=lambda x: x[0])


# -- model ids -----------------------------------------------------------------------------------
class IdIndex:
    """Resolve free text to one of a fixed list of ids: exact, normalised, alias, fuzzy."""

    def __init__(
        self,
        ids: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        families: Iterable[str] = (),
    ) -> None:
        self.ids = unique(i for i in ids if isinstance(i, str) and i)
        self._exact = set(self.ids)
        self._norm: dict[str, str] = {}
        self._compact: dict[str, str] = {}
        for i in self.ids:
            n = norm_id(i)
            self._norm.setdefault(n, i)
            self._compact.setdefault(n.replace("_", ""), i)
        self.aliases = {a: t for a, t in (aliases or {}).items() if t in self._exact}
        self.families: dict[str, str] = {}
        for fam in families:
            hit = next((i for i in self.ids if i == fam or i.startswith(fam + "_")), None)
            if hit:
                self.families[fam] = hit
        # Multi-word stems name their first id, as a family does: "gjr garch" -> gjr_garch_normal.
        self.prefixes: dict[str, str] = {}
        for i in self.ids:
            words = norm_id(i).split("_")
            for k in range(2, len(words)):
                self.prefixes.setdefault("_".join(words[:k]), i)

    def lookup(self, text: str) -> str | None:
        """Exact, normalised, alias or family match; no guessing."""
        if text in self._exact:
            return text
        n = norm_id(text)
        if not n:
            return None
        hit = self._lookup_norm(n)
        if hit:
            return hit
        words = n.split("_")
        while len(words) > 1 and words[-1] in _MODEL_SUFFIX_WORDS:
            words.pop()
        return self._lookup_norm("_".join(words)) if len(words) < len(n.split("_")) else None

    def _lookup_norm(self, n: str) -> str | None:
        return (
            self._norm.get(n)
            or self._compact.get(n.replace("_", ""))
            or self.aliases.get(n)
            or self.families.get(n)
            or self.prefixes.get(n)
        )

    def close(self, text: str) -> str | None:
        """A near-certain typo fix ("random_forrest"); digits must agree (arima_1_1_1 != 1_0_1)."""
        n = norm_id(text)
        digits = _DIGITS_RE.findall(n)
        for cand in difflib.get_close_matches(n, list(self._norm), n=3, cutoff=0.85):
            if _DIGITS_RE.findall(cand) == digits:
                return self._norm[cand]
        return None

    def suggest(self, text: str, n: int = 3) -> list[str]:
        key = norm_id(text)
        return [self._norm[c] for c in difflib.get_close_matches(key, list(self._norm), n, 0.5)]


# -- the vocabulary ----------------------------------------------------------------------------
class Vocabulary:
    """The symbols and models a request may name, and how to find them in text.

    ``resolve_symbol`` is the catalogue's resolver (text -> symbol or None; errors count as
    unknown); ``known_symbols`` only feeds "did you mean" suggestions.
    """

    def __init__(
        self,
        model_ids: Iterable[str],
        resolve_symbol: Callable[[str], str | None],
        financial_ids: Iterable[str] = (),
        *,
        known_symbols: Iterable[str] = (),
    ) -> None:
        self.models = IdIndex(model_ids, MODEL_ALIASES, FAMILY_PREFIXES)
        self.financial = IdIndex(financial_ids)
        self._resolver = resolve_symbol
        self.known_symbols = unique(s for s in known_symbols if isinstance(s, str))
        self._forms, self._form_heads, self._form_max = self._build_forms()
        self.model_words = {form[0].upper() for form in self._forms if len(form) == 1}
        """Upper-cased one-word model names (LSTM, GARCH...): never read as symbols."""

    def with_known_symbols(self, symbols: Iterable[str]) -> Vocabulary:
        """The same vocabulary, suggesting among ``symbols`` too (for "did you mean")."""
        return Vocabulary(
            self.models.ids,
            self._resolver,
            self.financial.ids,
            known_symbols=[*self.known_symbols, *symbols],
        )

    # -- symbols -----------------------------------------------------------------------------
    def resolve_symbol(self, text: str) -> str | None:
        """The catalogue symbol for ``text``, or None; resolver errors count as unknown."""
        if not isinstance(text, str) or not text.strip():
            return None
        try:
            hit = self._resolver(text)
        except (MLTrainerError, LookupError, ValueError, TypeError):
            return None
        return hit if isinstance(hit, str) and hit else None

    def cached_symbol(self, token: str, cache: dict[str, str | None]) -> str | None:
        """:meth:`resolve_symbol` of ``token`` (or of it in capitals), memoised in ``cache``."""
        if token not in cache:
            hit = self.resolve_symbol(token)
            if hit is None and token != token.upper():
                hit = self.resolve_symbol(token.upper())
            cache[token] = hit
        return cache[token]

    def suggest_symbols(self, text: str, n: int = 3) -> list[str]:
        """Known symbols close to ``text`` ("APPL" -> AAPL)."""
        return difflib.get_close_matches(text.upper(), self.known_symbols, n=n, cutoff=0.6)

    def explicit_symbol(self, value: Any, cache: dict[str, str | None]) -> str:
        """A symbol given as a value (tool input, JSON, key: value): known, or Invalid."""
        if not isinstance(value, str):
            raise Invalid(f"a symbol must be text, got {value!r}")
        cleaned = clean_name(value).lstrip("$")
        if not cleaned:
            raise Invalid("no symbol given")
        hit = self.cached_symbol(cleaned, cache)
        if hit:
            return hit
        close = self.suggest_symbols(cleaned)
        shown = hint(close) or "; run 'mltrainer data list' to see what is available"
        raise Invalid(f"unknown symbol '{cleaned}'{shown}", close)

    def prose_symbols(
        self, text: str, cache: dict[str, str | None]
    ) -> tuple[list[str], str | None]:
        """(every known symbol written in capitals in ``text``, the one it is about or None).

        The one it is about is the only symbol after "on", "for", "of"... or else the only
        symbol named at all."""
        found: list[tuple[int, str, bool]] = []
        candidates = [(m.start(), m.group(1)) for m in _TICKER_RE.finditer(text)]
        candidates += [(m.start(), m.group()) for m in _SP500_RE.finditer(text)]
        for start, token in sorted(candidates):
            if len(token) > 15 or token in SYMBOL_STOPWORDS or token in self.model_words:
                continue
            hit = self.cached_symbol(token, cache)
            if hit is None and " " in token:
                hit = self.cached_symbol(token.replace(" ", ""), cache)
            if hit is None:
                continue
            is_primary = bool(_PRIMARY_CTX_RE.search(text, max(0, start - 40), start))
            found.append((start, hit, is_primary))
        symbols = unique(sym for _s, sym, _p in found)
        primary = unique(sym for _s, sym, p in found if p)
        if len(primary) == 1:
            return symbols, primary[0]
        if not primary and len(symbols) == 1:
            return symbols, symbols[0]
        return symbols, None

    # -- models ------------------------------------------------------------------------------
    def resolve_model(self, text: str) -> str | None:
        """The registry id for ``text`` (exact, normalised, alias, near-certain typo)."""
        if not isinstance(text, str):
            return None
        return self.models.lookup(text) or self.models.close(text)

    def explicit_models(
        self, value: Any, *, single: bool, financial: bool
    ) -> list[tuple[str, str]]:
        """``[(kind, id)]`` for model names given as a value; kind is ml or financial."""
        if isinstance(value, str) and single:
            try:
                return [self.explicit_model(value, financial=financial)]
            except Invalid:
                parts = split_list(value)
                if len(parts) < 2:
                    raise
                return [self.explicit_model(p, financial=financial) for p in parts]
        items = split_list(value)
        if not items:
            raise Invalid("no model named")
        return [self.explicit_model(v, financial=financial) for v in items]

    def explicit_model(self, value: Any, *, financial: bool) -> tuple[str, str]:
        if not isinstance(value, str):
            raise Invalid(f"a model id must be text, got {value!r}")
        cleaned = clean_name(value)
        if not cleaned or cleaned.lower() in ("none", "null", "n/a"):
            raise Invalid("no model named", self.models.ids[:5])
        if financial and not self.financial.ids:
            return "financial", cleaned  # nothing to check against; the executor will
        order = [("ml", self.models), ("financial", self.financial)]
        if financial:
            order.reverse()
        for kind, index in order:
            hit = index.lookup(cleaned)
            if hit:
                return kind, hit
        for kind, index in order:
            hit = index.close(cleaned)
            if hit:
                return kind, hit
        close = unique([*self.models.suggest(cleaned), *self.financial.suggest(cleaned)])[:5]
        shown = hint(close) or "; run 'mltrainer models list' to see all models"
        raise Invalid(f"unknown model '{cleaned}'{shown}", close)

    def _build_forms(self) -> tuple[dict[tuple[str, ...], str], set[str], int]:
        forms: dict[tuple[str, ...], str] = {}

        def add(text: str, target: str) -> None:
            toks = tuple(t.lower() for t in WORD_TOKEN_RE.findall(text))
            if toks and toks not in _PROSE_EXCLUDED_FORMS:
                forms.setdefault(toks, target)

        for mid in self.models.ids:
            add(mid, mid)
        for mid in self.models.ids:
            add(norm_id(mid).replace("_", ""), mid)
        for alias, target in self.models.aliases.items():
            add(alias, target)
        for fam, target in self.models.families.items():
            add(fam, target)
        for stem, target in self.models.prefixes.items():
            add(stem, target)
        heads = {form[0] for form in forms}
        longest = max((len(form) for form in forms), default=0)
        return forms, heads, longest

    def mentions(self, text: str) -> list[tuple[int, str]]:
        """Registry models named in ``text``: (position, id), longest form first."""
        return [(pos, mid) for pos, _end, mid in self.mention_spans(text)]

    def mention_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Registry models named in ``text``: (start, end, id), longest form first."""
        toks = [(m.start(), m.end(), m.group()) for m in WORD_TOKEN_RE.finditer(text)]
        out: list[tuple[int, int, str]] = []
        i = 0
        while i < len(toks):
            if toks[i][2].lower() not in self._form_heads:
                i += 1
                continue
            step = 1
            for n in range(min(self._form_max, len(toks) - i), 0, -1):
                key = tuple(t[2].lower() for t in toks[i : i + n])
                target = self._forms.get(key)
                if target is None:
                    continue
                if not all(
                    _FORM_SEP_RE.fullmatch(text, toks[j][1], toks[j + 1][0])
                    for j in range(i, i + n - 1)
                ):
                    continue
                if key in _UPPER_ONLY_FORMS and not toks[i][2].isupper():
                    continue
                out.append((toks[i][0], toks[i + n - 1][1], target))
                step = n
                break
            i += step
        return out

    def unknown_phrase(self, name: str) -> Invalid:
        """The problem with a model name that is not in the registry."""
        financial = self.financial.lookup(name)
        if financial:
            return Invalid(
                f"{financial} is a financial model, not a trainable one; use run_financial",
                [financial],
            )
        close = self.models.suggest(name)
        shown = hint(close) or "; run 'mltrainer models list' to see all models"
        return Invalid(f"unknown model '{name}'{shown}", close)

    def phrase_models(self, text: str) -> tuple[list[tuple[int, str]], Invalid | None]:
        """Models named in "using the X model" phrases (position, id); the first unknown name."""
        ids: list[tuple[int, str]] = []
        unknown: Invalid | None = None
        for m in _MODEL_PHRASE_RE.finditer(text):
            name = m.group(1)
            hit = self.resolve_model(name)
            if hit is None:
                words = [
                    w
                    for w in name.split()
                    if w.lower() not in _GENERIC_MODEL_WORDS and not _NUMERIC_WORD_RE.fullmatch(w)
                ]
                if not words:
                    continue
                name = " ".join(words)
                hit = self.resolve_model(name)
            if hit is not None:
                ids.append((m.start(), hit))
            elif unknown is None:
                unknown = self.unknown_phrase(name)
        return ids, unknown
