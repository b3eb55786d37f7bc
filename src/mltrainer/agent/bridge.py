"""Turn a language-model reply into validated action requests.

The bridge never executes anything. :meth:`Bridge.parse` returns data -- a list of
:class:`ActionRequest` and a list of :class:`BridgeError` -- and the caller decides what
to run.

Parsing order
-------------
A reply is read in tiers. The first tier that yields anything (an action *or* an error)
wins and later tiers are not consulted, so one trial written twice (a JSON block and a
sentence describing it) never turns into two actions:

1. **Tool calls**: Anthropic ``tool_use`` blocks, OpenAI ``tool_calls`` and the older
   ``function_call``. When a reply has tool calls its text is returned but not parsed.
2. **JSON**: fenced `````json`` blocks, labelled objects (``TRIAL_CONFIG = {...}``,
   ``TRIAL_CONFIGURATION {...}``, ``TRIAL_PARAMETERS: {...}``) and bare ``{...}``
   objects. A small tokenizer accepts ``//`` and ``/* */`` comments, trailing commas,
   single-quoted strings, unquoted keys and Python literals, rewrites them as strict
   JSON and hands that to :func:`json.loads`. Nothing is evaluated.
3. **key: value lines**: ``Symbol: AAPL``, ``Model: random_forest``, ``Horizon: 10 days``.
4. **Prose**: "a trial on AAPL using the LSTM model", "set the train_ratio to 0.75",
   "compare lightgbm, ridge and random forest on SPX".

A JSON or key/value block that gives parameters but lacks the symbol or the model may
borrow it from the prose around it, and only if the prose names exactly one.

Why prose matching is conservative
----------------------------------
The predecessor read the symbol ``FOR`` out of "for AAPL" and the model ``on`` out of a
sentence, and users trained nonsense. Here prose only ever yields:

* symbols: upper-case tokens that the catalogue resolver knows. Stop words (FOR, THE, ON,
  USING, I, A...) and model names (LSTM, GARCH...) are never looked up, and other
  upper-case words are ignored without comment;
* models: registry ids and a small alias table, matched on whole words (longest first),
  or the name in a phrase such as "using the XYZ model";
* an action only when the text also shows intent (trial, train, backtest, compare...),
  and names exactly one symbol and one model (or, for "compare", several models).

Anything ambiguous becomes a :class:`BridgeError` rather than a guess. Values given
explicitly (tool input, JSON, key: value) are held to a stricter standard: an unknown
symbol or model there is always an error with suggestions.

Two more guards keep reports from turning into requests: a sentence that pairs a metric
with a past-tense verb ("the ridge trial on SPX finished with a Sharpe of 0.4") shows no
intent, and a JSON object or key: value block with result keys (sharpe, metrics...) is
skipped. Code fences in a programming language (```python) are not read as key: value
lines or prose; JSON inside them still is.

Parameters are normalised the same way in every tier: ``train_ratio`` and ``stop_loss``
are fractions in (0, 1) ("1.5%" -> 0.015; 75 is refused with the hint 0.75), ``lookback``,
``epochs`` and ``horizon`` positive whole numbers of days/bars, dates ISO strings (a bare
year means 1 January / 31 December), timeframes ``[{"min", "max", "unit"}]``. When a tool
schema is given it has the last word; model hyper-parameters it does not declare
(lookback, epochs, learning_rate) are moved into its ``params`` mapping if it has one.
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
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..errors import MLTrainerError
from .plans import Plan, PlanStep, bind_timeframes, describe_step, step_horizon

__all__ = ["KNOWN_ACTIONS", "ActionRequest", "BridgeError", "ParseResult", "Bridge"]

KNOWN_ACTIONS: tuple[str, ...] = (
    "train_model",
    "start_trial",
    "compare_models",
    "run_financial",
    "list_models",
    "list_symbols",
    "trial_status",
    "set_goal",
    "get_goal",
    "search_memory",
)


# -- public data ---------------------------------------------------------------------------
class ActionRequest(BaseModel):
    """One validated action the caller may choose to run."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    origin: str
    """Where it was read: ``tool_use``, ``json``, ``key_value`` or ``prose``."""
    tool_use_id: str | None = None


class BridgeError(BaseModel):
    """Something in the reply looked like a request but could not be turned into one."""

    message: str
    suggestions: list[str] = Field(default_factory=list)
    origin: str
    tool_use_id: str | None = None
    fragment: str | None = None


class ParseResult(BaseModel):
    actions: list[ActionRequest] = Field(default_factory=list)
    errors: list[BridgeError] = Field(default_factory=list)
    text: str = ""
    """The reply's text blocks joined (tool calls removed)."""
    plans: list[Plan] = Field(default_factory=list)
    """Multi-step proposals read from prose (see :mod:`mltrainer.agent.plans`); never run
    without approval, and never also returned as ``actions``."""


# -- vocabulary ----------------------------------------------------------------------------
_TRIAL_ACTIONS = frozenset({"train_model", "start_trial", "compare_models"})
_SINGLE_MODEL_ACTIONS = frozenset({"train_model", "start_trial"})
_ACTION_ALIASES = {
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
_ACTION_KEYS = ("action", "tool", "tool_name", "function", "command", "name")
_NESTED_KEYS = frozenset(
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
_KEY_SYNONYMS: dict[str, str] = {
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
_MODEL_KEYS = frozenset({"model_id", "model_ids"})
_SYMBOL_KEYS = frozenset({"symbol", "symbols"})
_TRIAL_PARAM_KEYS = frozenset(
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
_HYPERPARAMS = ("lookback", "epochs", "learning_rate")

_MODEL_ALIASES = {
    "lgbm": "lightgbm",
    "lgb": "lightgbm",
    "xgb": "xgboost",
    "rf": "random_forest",
    "rfc": "random_forest_classifier",
}
# "lstm" means the first registry id that is "lstm" or starts with "lstm_". Only these
# single words act as families; most single words ("random", "linear") are too vague.
_FAMILY_PREFIXES = (
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
_SYMBOL_STOPWORDS = frozenset(
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

_INTENT_RE = re.compile(
    r"\b(?:trials?|train|training|backtest(?:s|ing)?|experiments?|fit|fitting|run|start|try|"
    r"starting|launch|launching|compare|comparing|comparison)\b",
    re.I,
)
# Words that propose work in a multi-step plan ("use an LSTM for 7-12 days and ...").
_PLAN_INTENT_RE = re.compile(
    r"\b(?:use|using|recommend|suggest|apply|go\s+with|deploy)\b|" + _INTENT_RE.pattern, re.I
)
# Hyper-parameter names read from replies -> the name some registry models use instead.
_HYPERPARAM_ALIASES = {"learning_rate": "lr"}
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
_RESULT_KEYS = frozenset(
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
_KV_EXTRA_KEYS = _RESULT_KEYS | {"action", "tool"}
# Code fences whose lines may hold key: value settings; other fences (python, bash...) are
# code, and are not read as key: value lines or prose.
_SETTINGS_FENCE_LANGS = frozenset(
    {"", "json", "json5", "jsonc", "yaml", "yml", "toml", "ini", "text", "txt", "md", "markdown"}
)
_NOT_TIMEFRAME_CTX_RE = re.compile(r"(?:look[\s_-]?back|horizon)\b[^.;:!?\n]{0,25}$", re.I)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|\n\s*\n")

# -- symbols in prose --------------------------------------------------------------------------
_TICKER_RE = re.compile(r"(?<![\w^$/&.-])\$?(\^?[A-Z][A-Z0-9]*(?:[&/.-][A-Z0-9]+)*)(?![\w&/-])")
_SP500_RE = re.compile(r"\bS&P[\s-]?500\b")
_PRIMARY_CTX_RE = re.compile(
    r"\b(?:on|for|of|in|with|trade|trading|ticker|symbol|stock)\s+"
    r"(?:the\s+)?(?:symbol\s+|ticker\s+|stock\s+)?\$?$",
    re.I,
)

# -- models in prose ---------------------------------------------------------------------------
_WORD_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_FORM_SEP_RE = re.compile(r"[ \t_-]{1,3}")
_NUMERIC_WORD_RE = re.compile(r"\d+(?:-?days?|d)?", re.I)
_MODEL_PHRASE_RE = re.compile(
    r"\b(?:using|use|with|via|train|training|fit|fitting|run|running|try|trying|recommend|"
    r"suggest|choose|pick|select)\s+(?:(?:a|an|the)\s+)?"
    r"((?:[\w.+-]+\s+){0,2}?[\w.+-]+)\s+model\b",
    re.I,
)

# -- parameters in prose ---------------------------------------------------------------------------
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

# -- JSON ------------------------------------------------------------------------------------------
_FENCE_RE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)```", re.S)
_JSON_LANGS = frozenset({"json", "json5", "jsonc"})
_LABEL_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:[:=]\s*)?$")
_LABEL_WORDS_RE = re.compile(r"trial|config|param|action|tool", re.I)
_QUOTED_KEY_START_RE = re.compile(r"\{\s*[\"'][\w -]{1,40}[\"']\s*:")
_OBJECT_START_RE = re.compile(r"\{\s*(?:[\"'}]|[A-Za-z_]\w*\s*:|//|/\*)")
_SCAN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|[^"\'/{}\[\]]+|.', re.S)
_SQ_STRING_RE = re.compile(r"'(?:[^'\\\n]|\\.)*'")
_TOKEN_RE = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>//[^\n]*|/\*.*?\*/|\#[^\n]*)
    | (?P<dq>"(?:[^"\\\n]|\\.)*")
    | (?P<sq>'(?:[^'\\\n]|\\.)*')
    | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?%?)
    | (?P<word>[A-Za-z_$][\w$]*)
    | (?P<punct>[{}\[\]:,])
    | (?P<other>.)
    """,
    re.X | re.S,
)
_ESCAPE_RE = re.compile(r"\\(.)|\"", re.S)
_NON_SPACE_RE = re.compile(r"\S")
_PERCENT_KEY_RE = re.compile(r"%|pct|percent", re.I)
_INT_TOKEN_RE = re.compile(r"-?\d+")
_LITERALS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "True": "true",
    "False": "false",
    "None": "null",
}

# -- key: value lines ------------------------------------------------------------------------
_MARKDOWN_RE = re.compile(r"\*\*|__|`")
_KV_RE = re.compile(
    r"^[ \t]*(?:[-*+•>][ \t]+|\d{1,2}[.)][ \t]+)?"
    r"([A-Za-z][A-Za-z0-9 _/()%-]{0,40}?)[ \t]*[:=][ \t]*(\S.*?)[ \t]*$"
)

# -- values ----------------------------------------------------------------------------------
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
_LABEL_WINDOW = 80  # how far before a "{" a TRIAL_CONFIG-style label is looked for
_MAX_STEPS = {"lookback": 10_000, "epochs": 100_000, "horizon": 10_000}


# -- small helpers ---------------------------------------------------------------------------
class _Invalid(Exception):
    """A value could not be used; carries a user-facing message and suggestions."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _norm_key(key: str) -> str:
    return _NON_ALNUM_RE.sub("_", _PARENS_RE.sub("", key).lower()).strip("_")


def _norm_id(text: str) -> str:
    return _NON_ALNUM_RE.sub("_", text.lower()).strip("_")


def _fragment(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_FRAGMENT else text[: _MAX_FRAGMENT - 3] + "..."


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _hint(suggestions: Sequence[str]) -> str:
    return f"; did you mean {', '.join(suggestions)}?" if suggestions else ""


def _strip_parens(text: str) -> str:
    return _PARENS_RE.sub("", text).strip()


def _clean_name(value: str) -> str:
    """A symbol or model name out of free text: "LSTM (long short-term memory)" -> LSTM."""
    s = _VALUE_CUT_RE.split(_strip_parens(_MARKDOWN_RE.sub("", value)), maxsplit=1)[0]
    return s.strip().strip("\"'*_").strip().rstrip(".,;:!").strip()


def _split_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [p for p in _LIST_SPLIT_RE.split(_strip_parens(value)) if p.strip()]
    return [value]


# -- value normalisers -----------------------------------------------------------------------
def _number(name: str, value: Any) -> tuple[float, bool, str]:
    """(number, given as a percentage, unit words) or :class:`_Invalid`."""
    if isinstance(value, bool):
        raise _Invalid(f"{name} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        number, pct, unit = float(value), False, ""
    elif isinstance(value, str) and (m := _NUMBER_RE.match(_strip_parens(value))):
        number = float(m["num"].replace(",", ""))
        pct, unit = bool(m["pct"]), " ".join((m["unit"] or "").lower().split())
    else:
        raise _Invalid(f"{name} must be a number, got {value!r}")
    if not math.isfinite(number):
        raise _Invalid(f"{name} must be a finite number, got {value!r}")
    return number, pct, unit


def _positive_int(name: str, value: Any) -> int:
    number, pct, unit = _number(name, value)
    allowed = _DAY_UNITS | ({"epoch", "epochs"} if name == "epochs" else set())
    if pct or unit not in allowed:
        what = "a whole number" if name == "epochs" else "a whole number of days (bars)"
        raise _Invalid(f"{name} must be {what}, got {value!r}")
    if number != int(number):
        raise _Invalid(f"{name} must be a whole number, got {value!r}")
    limit = _MAX_STEPS[name]
    if not 1 <= number <= limit:
        raise _Invalid(f"{name} must be between 1 and {limit}, got {int(number)}")
    return int(number)


def _fraction(
    name: str, value: Any, *, percent_hint: bool = True, allow_one: bool = False
) -> float:
    number, pct, unit = _number(name, value)
    if unit:
        raise _Invalid(f"{name} must be a plain number or a percentage, got {value!r}")
    if pct:
        number /= 100
    number = round(number, 12)
    if 0 < number < 1 or (allow_one and number == 1):
        return number
    if percent_hint and not pct and 1 < number < 100:
        as_fraction = f"{round(number / 100, 12):g}"
        raise _Invalid(
            f"{name} must be a fraction between 0 and 1, got {value!r}; "
            f"write {as_fraction} or {number:g}%",
            [as_fraction],
        )
    upper = "1" if allow_one else "1 (exclusive)"
    raise _Invalid(f"{name} must be between 0 (exclusive) and {upper}, got {value!r}")


def _train_ratio(value: Any) -> float:
    return _fraction("train_ratio", value)


def _stop_loss(value: Any) -> float:
    return _fraction("stop_loss", value)


def _learning_rate(value: Any) -> float:
    return _fraction("learning_rate", value, percent_hint=False, allow_one=True)


def _date(name: str, value: Any, *, end: bool) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    m = _DATE_VALUE_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise _Invalid(f"{name} must be a date (YYYY-MM-DD or a year), got {value!r}")
    year = int(m[1])
    try:
        if m[3]:
            return dt.date(year, int(m[2]), int(m[3])).isoformat()
        if m[2]:
            month = int(m[2])
            day = calendar.monthrange(year, month)[1] if end else 1
            return dt.date(year, month, day).isoformat()
    except ValueError as exc:
        raise _Invalid(f"{name} is not a valid date: {value!r} ({exc})") from None
    return dt.date(year, 12, 31).isoformat() if end else dt.date(year, 1, 1).isoformat()


def _start(value: Any) -> str:
    return _date("start", value, end=False)


def _end(value: Any) -> str:
    return _date("end", value, end=True)


def _date_range(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        lo, hi = value.get("start"), value.get("end")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = value
    elif isinstance(value, str) and (
        m := _YEAR_RANGE_RE.match(value) or _DATE_RANGE_RE.match(_strip_parens(value))
    ):
        lo, hi = m[1], m[2]
    else:
        raise _Invalid(f"date range must look like '2010-01-01 to 2012-06-30', got {value!r}")
    out = {}
    if lo is not None:
        out["start"] = _start(lo)
    if hi is not None:
        out["end"] = _end(hi)
    return out


def _one_timeframe(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        lo, hi, unit = item.get("min"), item.get("max"), item.get("unit", "days")
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        (lo, hi), unit = item, "days"
    elif isinstance(item, str) and (m := _RANGE_RE.match(_strip_parens(item))):
        lo, hi, unit = m[1], m[2], m[3] or ""
    elif isinstance(item, str) and (m := _NUMBER_RE.match(_strip_parens(item))) and not m["pct"]:
        lo = hi = m["num"]
        unit = m["unit"] or ""
    else:
        raise _Invalid(f"a timeframe must look like '7-12 days', got {item!r}")
    unit_key = " ".join(str(unit).lower().split())
    if unit_key not in _TIME_UNITS:
        raise _Invalid(f"timeframe unit must be days, weeks, months or years, got {unit!r}")
    low = _timeframe_bound(lo, item)
    high = _timeframe_bound(hi, item)
    if low > high:
        raise _Invalid(f"timeframe minimum {low} is above its maximum {high}")
    return {"min": low, "max": high, "unit": _TIME_UNITS[unit_key]}


def _timeframe_bound(value: Any, item: Any) -> int:
    try:
        number, pct, unit = _number("timeframe", value)
    except _Invalid:
        raise _Invalid(f"a timeframe must look like '7-12 days', got {item!r}") from None
    if pct or unit or number != int(number) or number < 1:
        raise _Invalid(f"timeframe bounds must be positive whole numbers, got {item!r}")
    return int(number)


def _timeframes(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        items: list[Any] = _split_list(_BETWEEN_RE.sub(r"\1-\2", value))
    elif isinstance(value, (list, tuple)) and not (
        len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    ):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise _Invalid("timeframes is empty")
    out: list[dict[str, Any]] = []
    for item in items:
        tf = _one_timeframe(item)
        if tf not in out:
            out.append(tf)
    return out


def _source(value: Any) -> str:
    """A requested data source, kept exactly as written (ids are case-sensitive) so the
    compliance gateway decides on it; never dropped or replaced here."""
    if value is None or isinstance(value, (dict, list, tuple)):
        raise _Invalid(f"a data source must be a source id such as 'bundled', got {value!r}")
    text = _clean_name(str(value)) if isinstance(value, str) else str(value)
    if not text:
        raise _Invalid(f"a data source must be a source id such as 'bundled', got {value!r}")
    return text


def _canonical_source(params: dict[str, Any]) -> dict[str, Any]:
    """Spellings of the source key (data_source, dataset_source...) as ``source``; two
    different sources in one request are an error, not a silent choice."""
    found = {k: v for k, v in params.items() if _KEY_SYNONYMS.get(_norm_key(k)) == "source"}
    if not found or list(found) == ["source"]:
        return params
    values = _unique_values(found.values())
    if len(values) > 1:
        shown = ", ".join(f"{k}={v!r}" for k, v in found.items())
        raise _Invalid(f"conflicting data sources: {shown}; name one source")
    out = {k: v for k, v in params.items() if k not in found}
    out["source"] = values[0]
    return out


_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "source": _source,
    "train_ratio": _train_ratio,
    "lookback": lambda v: _positive_int("lookback", v),
    "epochs": lambda v: _positive_int("epochs", v),
    "horizon": lambda v: _positive_int("horizon", v),
    "stop_loss": _stop_loss,
    "learning_rate": _learning_rate,
    "timeframes": _timeframes,
    "start": _start,
    "end": _end,
    "date_range": _date_range,
}


def _check_dates(params: Mapping[str, Any], start_key: str = "start", end_key: str = "end") -> None:
    start, end = params.get(start_key), params.get(end_key)
    if isinstance(start, str) and isinstance(end, str) and start >= end:
        raise _Invalid(f"start {start} must be before end {end}")


# -- lenient JSON ------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _requote(body: str) -> str:
    """A JSON string literal from the inside of a single- or double-quoted string."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return '\\"'
        return "'" if m.group(1) == "'" else m.group(0)

    return '"' + _ESCAPE_RE.sub(sub, body) + '"'


def _number_token(tok: str) -> str:
    if tok.endswith("%"):
        return json.dumps(tok)
    tok = tok.lstrip("+")
    if _INT_TOKEN_RE.fullmatch(tok):
        return str(int(tok))
    number = float(tok)
    if not math.isfinite(number):
        raise _Invalid(f"number {tok} is out of range")
    return repr(number)


def _to_strict_json(src: str) -> str:
    """Rewrite JSON-ish text (comments, trailing commas, single quotes...) as strict JSON."""
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(src):
        kind = m.lastgroup or "other"
        if kind in ("space", "comment"):
            continue
        if kind == "other":
            raise _Invalid(f"unexpected character {m.group()!r}")
        tokens.append((kind, m.group()))
    out: list[str] = []
    for i, (kind, tok) in enumerate(tokens):
        if kind == "punct":
            if tok in "}]" and out and out[-1] == ",":
                out.pop()
            out.append(tok)
        elif kind in ("dq", "sq"):
            out.append(_requote(tok[1:-1]))
        elif kind == "number":
            out.append(_number_token(tok))
        elif tok in _LITERALS and tokens[i + 1 : i + 2] != [("punct", ":")]:
            out.append(_LITERALS[tok])
        else:
            out.append(json.dumps(tok))
    return " ".join(out)


def _load_jsonish(src: str) -> Any:
    try:
        return json.loads(src, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(_to_strict_json(src), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"malformed JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"malformed JSON: {exc}") from None


def _balanced_end(text: str, start: int, stop: int) -> int | None:
    """Index just past the bracket that closes the one at ``start``; None if unterminated."""
    depth = 0
    pos = start
    prev = ""  # last significant character outside strings and comments
    while pos < stop:
        ch = text[pos]
        if ch in "{[":
            depth += 1
            prev = ch
            pos += 1
            continue
        if ch in "}]":
            depth -= 1
            pos += 1
            if depth == 0:
                return pos
            prev = ch
            continue
        if ch == "'" and prev in ("{", "[", ",", ":"):
            m = _SQ_STRING_RE.match(text, pos, stop)
            if m:
                pos, prev = m.end(), "'"
                continue
        m = _SCAN_RE.match(text, pos, stop)
        if m is None:  # cannot happen: the last alternative matches any character
            return None
        tok = m.group()
        pos = m.end()
        if tok.startswith(("//", "/*")) and len(tok) > 1:
            continue
        stripped = tok.rstrip()
        if stripped:
            prev = stripped[-1]
    return None


@dataclass
class _JsonFinding:
    value: Any
    fragment: str
    labelled: bool


@dataclass
class _JsonScan:
    findings: list[_JsonFinding] = field(default_factory=list)
    problems: list[BridgeError] = field(default_factory=list)
    masked: str = ""


def _scan_json(text: str) -> _JsonScan:
    """Find JSON(-ish) objects in ``text``; return them and the text with them blanked."""
    scan = _JsonScan()
    fences = [(m.start(2), m.end(2), m.group(1).lower()) for m in _FENCE_RE.finditer(text)]
    array_starts: set[int] = set()
    for body_start, body_end, _lang in fences:
        first = _NON_SPACE_RE.search(text, body_start, body_end)
        if first and text[first.start()] == "[":
            array_starts.add(first.start())
    spans: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while pos < n:
        brace = text.find("{", pos)
        starts = [s for s in array_starts if s >= pos]
        start = min([s for s in (brace, *starts) if s >= 0], default=-1)
        if start < 0:
            break
        fence = next(((a, b, lang) for a, b, lang in fences if a <= start < b), None)
        window = max(0, start - _LABEL_WINDOW)  # bounded, so one long line stays linear
        line_start = max(window, text.rfind("\n", window, start) + 1)
        label_m = _LABEL_RE.search(text, line_start, start)
        labelled = bool(label_m and _LABEL_WORDS_RE.search(label_m.group(1)))
        in_json_fence = bool(fence and (fence[2] in _JSON_LANGS or start in array_starts))
        if fence and not in_json_fence and not labelled:
            in_json_fence = not text[fence[0] : start].strip()
        intended = in_json_fence or labelled or bool(_QUOTED_KEY_START_RE.match(text, start))
        if not intended and not _OBJECT_START_RE.match(text, start):
            pos = start + 1
            continue
        stop = fence[1] if fence else n
        end = _balanced_end(text, start, stop)
        if end is None:
            if intended:
                scan.problems.append(
                    BridgeError(
                        message="malformed JSON: the object is never closed",
                        origin="json",
                        fragment=_fragment(text[start:stop]),
                    )
                )
                spans.append((start, stop))
                if fence is None:
                    break
                pos = stop
            else:
                pos = start + 1
            continue
        candidate = text[start:end]
        try:
            value = _load_jsonish(candidate)
        except _Invalid as exc:
            if intended:
                scan.problems.append(
                    BridgeError(message=exc.message, origin="json", fragment=_fragment(candidate))
                )
                spans.append((label_m.start() if labelled and label_m else start, end))
                pos = end
            else:
                pos = start + 1
            continue
        scan.findings.append(_JsonFinding(value, _fragment(candidate), labelled))
        spans.append((label_m.start() if labelled and label_m else start, end))
        pos = end
    scan.masked = _mask(text, spans)
    return scan


def _mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for a, b in sorted(spans):
        if a < last:
            a = last
        parts.append(text[last:a])
        parts.append(re.sub(r"[^\n]", " ", text[a:b]))
        last = max(last, b)
    parts.append(text[last:])
    return "".join(parts)


def _flatten(obj: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """Top-level keys plus those of nested ``parameters``/``input``/... objects (outer wins)."""
    out: dict[str, Any] = {}
    nested: list[Mapping[str, Any]] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            continue
        if _norm_key(key) in _NESTED_KEYS and depth < 3:
            if isinstance(value, str) and value.lstrip().startswith("{"):
                with contextlib.suppress(_Invalid):
                    value = _load_jsonish(value)
            if isinstance(value, Mapping):
                nested.append(value)
                continue
        out[key] = value
    for inner in nested:
        for key, value in _flatten(inner, depth + 1).items():
            out.setdefault(key, value)
    return out


# -- model ids -----------------------------------------------------------------------------------
class _IdIndex:
    """Resolve free text to one of a fixed list of ids: exact, normalised, alias, fuzzy."""

    def __init__(
        self,
        ids: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        families: Iterable[str] = (),
    ) -> None:
        self.ids = _unique(i for i in ids if isinstance(i, str) and i)
        self._exact = set(self.ids)
        self._norm: dict[str, str] = {}
        self._compact: dict[str, str] = {}
        for i in self.ids:
            n = _norm_id(i)
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
            words = _norm_id(i).split("_")
            for k in range(2, len(words)):
                self.prefixes.setdefault("_".join(words[:k]), i)

    def lookup(self, text: str) -> str | None:
        """Exact, normalised, alias or family match; no guessing."""
        if text in self._exact:
            return text
        n = _norm_id(text)
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
        n = _norm_id(text)
        digits = _DIGITS_RE.findall(n)
        for cand in difflib.get_close_matches(n, list(self._norm), n=3, cutoff=0.85):
            if _DIGITS_RE.findall(cand) == digits:
                return self._norm[cand]
        return None

    def suggest(self, text: str, n: int = 3) -> list[str]:
        key = _norm_id(text)
        return [self._norm[c] for c in difflib.get_close_matches(key, list(self._norm), n, 0.5)]


# -- per-call state ---------------------------------------------------------------------------------
@dataclass
class _ToolCall:
    id: str | None
    name: Any
    arguments: Any


@dataclass
class _Fields:
    """The interpreted keys of one mapping (tool input, JSON object, key/value block)."""

    models: list[str] = field(default_factory=list)
    financial: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # canonical name -> value
    values: dict[str, Any] = field(default_factory=dict)  # original key -> value
    extras: dict[str, Any] = field(default_factory=dict)  # keys the bridge does not read
    canon: set[str] = field(default_factory=set)
    errors: list[_Invalid] = field(default_factory=list)


@dataclass
class _Prose:
    """What the prose of a reply names, with ambiguity kept visible."""

    intent: bool = False
    symbols: list[str] = field(default_factory=list)
    symbol: str | None = None
    models: list[str] = field(default_factory=list)
    model_problem: _Invalid | None = None
    unknown_phrase: _Invalid | None = None
    params: dict[str, Any] = field(default_factory=dict)
    param_errors: list[tuple[_Invalid, str]] = field(default_factory=list)
    plan_pairs: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    """(model, timeframes) pairs when the reply proposes a step per model and timeframe."""


# -- the bridge ----------------------------------------------------------------------------------
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
        self._models = _IdIndex(model_ids, _MODEL_ALIASES, _FAMILY_PREFIXES)
        self._financial = _IdIndex(financial_ids)
        self._resolver = resolve_symbol
        self._known_symbols = _unique(s for s in known_symbols if isinstance(s, str))
        self._schemas: dict[str, type[BaseModel]] = dict(tool_schemas or {})
        self._actions = _unique([*KNOWN_ACTIONS, *self._schemas])
        self._forms, self._form_heads, self._form_max = self._build_forms()
        self._model_words = {form[0].upper() for form in self._forms if len(form) == 1}

    @property
    def model_ids(self) -> list[str]:
        return list(self._models.ids)

    def resolve_symbol(self, text: str) -> str | None:
        """The catalogue symbol for ``text``, or None; resolver errors count as unknown."""
        if not isinstance(text, str) or not text.strip():
            return None
        try:
            hit = self._resolver(text)
        except (MLTrainerError, LookupError, ValueError, TypeError):
            return None
        return hit if isinstance(hit, str) and hit else None

    def resolve_model(self, text: str) -> str | None:
        """The registry id for ``text`` (exact, normalised, alias, near-certain typo)."""
        if not isinstance(text, str):
            return None
        return self._models.lookup(text) or self._models.close(text)

    # -- entry point ----------------------------------------------------------------------------
    def parse(self, response: Any) -> ParseResult:
        texts, calls, errors = _split_response(response)
        text = "\n\n".join(t for t in texts if t)
        cache: dict[str, str | None] = {}
        actions: list[ActionRequest] = []
        plans: list[Plan] = []
        if calls:
            for call in calls:
                got, errs = self._from_tool_call(call, cache)
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

    # -- tier 1: tool calls ------------------------------------------------------------------------
    def _from_tool_call(
        self, call: _ToolCall, cache: dict[str, str | None]
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        def err(
            message: str, suggestions: Sequence[str] = (), fragment: str | None = None
        ) -> BridgeError:
            return BridgeError(
                message=message,
                suggestions=list(suggestions),
                origin="tool_use",
                tool_use_id=call.id,
                fragment=fragment,
            )

        name = call.name
        if not isinstance(name, str) or not name.strip():
            return [], [err("tool call without a name")]
        if name not in self._actions:
            close = difflib.get_close_matches(name, self._actions, n=3, cutoff=0.5)
            return [], [err(f"unknown tool '{name}'{_hint(close)}", close)]
        args = call.arguments
        fragment = _fragment(args if isinstance(args, str) else _dumps(args))
        if isinstance(args, str):
            if not args.strip():
                args = {}
            else:
                try:
                    args = _load_jsonish(args)
                except _Invalid as exc:
                    return [], [
                        err(
                            f"could not read the arguments of '{name}': {exc.message}", (), fragment
                        )
                    ]
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            return [], [err(f"the arguments of '{name}' must be an object", (), fragment)]
        fields = self._read_fields(args, cache, financial=name == "run_financial")
        errors = [err(e.message, e.suggestions, fragment) for e in fields.errors]
        if errors:
            return [], errors
        params = {key: fields.values.get(key, value) for key, value in args.items()}
        if name not in self._schemas:
            missing = self._missing_for_tool(name, fields)
            if missing:
                return [], [err(missing, (), fragment)]
        validated, problems = self._validate(name, params)
        if problems:
            return [], [err(p, (), fragment) for p in problems]
        return [
            ActionRequest(action=name, params=validated, origin="tool_use", tool_use_id=call.id)
        ], []

    def _missing_for_tool(self, name: str, fields: _Fields) -> str | None:
        """Without a schema, the minimum a trial tool call needs."""
        if name in _SINGLE_MODEL_ACTIONS:
            if len(fields.models) != 1:
                return f"{name} needs exactly one model_id"
            if not fields.symbols:
                return f"{name} needs a symbol"
        if name == "compare_models":
            if len(fields.models) < 2:
                return "compare_models needs at least two model_ids"
            if not fields.symbols:
                return "compare_models needs a symbol"
        return None

    # -- tiers 2-4: text -------------------------------------------------------------------------
    def _from_text(
        self, text: str, cache: dict[str, str | None], plans: list[Plan]
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        scan = _scan_json(text)
        masked = _mask_code_fences(scan.masked)
        prose_cache: list[_Prose] = []

        def prose() -> _Prose:
            if not prose_cache:
                prose_cache.append(self._read_prose(masked, cache))
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

        for block in _kv_blocks(masked):
            mapping = {key: value for key, value, _line in block}
            fragment = _fragment("\n".join(line for _k, _v, line in block))
            got, errs = self._from_mapping(
                mapping, "key_value", fragment, False, prose, cache, plans
            )
            actions += got
            errors += errs
        if actions or errors or plans:
            return actions, errors

        return self._from_prose(prose(), plans)

    # -- structured mappings (JSON objects, key/value blocks) -------------------------------------
    def _from_mapping(
        self,
        obj: Mapping[str, Any],
        origin: str,
        fragment: str,
        labelled: bool,
        prose: Callable[[], _Prose],
        cache: dict[str, str | None],
        plans: list[Plan] | None = None,
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        def err(message: str, suggestions: Sequence[str] = ()) -> BridgeError:
            return BridgeError(
                message=message, suggestions=list(suggestions), origin=origin, fragment=fragment
            )

        flat = _flatten(obj)
        if any(_norm_key(k) in _RESULT_KEYS for k in flat):
            return [], []  # a report of results, not a request
        action, action_problem = self._explicit_action(flat)
        keys = {_KEY_SYNONYMS.get(_norm_key(k)) for k in flat}
        relevant = (
            action is not None
            or bool(keys & _MODEL_KEYS)
            or bool(keys & _SYMBOL_KEYS and keys & _TRIAL_PARAM_KEYS)
            or (labelled and bool(keys & (_SYMBOL_KEYS | _TRIAL_PARAM_KEYS)))
        )
        if not relevant and not (action_problem and keys & (_MODEL_KEYS | _SYMBOL_KEYS)):
            return [], []
        if action_problem:
            return [], [err(action_problem.message, action_problem.suggestions)]
        body = {k: v for k, v in flat.items() if _norm_key(k) not in _ACTION_KEYS}
        fields = self._read_fields(body, cache, financial=action == "run_financial")
        errors = [err(e.message, e.suggestions) for e in fields.errors]
        if errors:
            return [], errors

        if action is None or action in _TRIAL_ACTIONS:
            return self._assemble_trial(action, fields, origin, fragment, prose, plans)
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
        return self._finish(action, params, origin, fragment)

    def _explicit_action(self, flat: Mapping[str, Any]) -> tuple[str | None, _Invalid | None]:
        for key, value in flat.items():
            nk = _norm_key(key)
            if nk not in _ACTION_KEYS or not isinstance(value, str):
                continue
            name = _norm_id(value)
            if value in self._actions:
                return value, None
            if name in self._actions:
                return name, None
            if name in _ACTION_ALIASES:
                return _ACTION_ALIASES[name], None
            if nk == "name":
                continue  # "name" is only an action when it names one
            close = difflib.get_close_matches(name, self._actions, n=3, cutoff=0.5)
            return None, _Invalid(f"unknown action '{value}'{_hint(close)}", close)
        return None, None

    def _assemble_trial(
        self,
        action: str | None,
        fields: _Fields,
        origin: str,
        fragment: str,
        prose: Callable[[], _Prose],
        plans: list[Plan] | None = None,
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        def err(message: str, suggestions: Sequence[str] = ()) -> BridgeError:
            return BridgeError(
                message=message, suggestions=list(suggestions), origin=origin, fragment=fragment
            )

        models, symbols = list(fields.models), list(fields.symbols)
        if fields.financial:
            if models or action in _TRIAL_ACTIONS:
                names = ", ".join(fields.financial)
                return [], [
                    err(f"{names} is a financial model, not a trainable one; use run_financial")
                ]
            financial: dict[str, Any] = {"model_id": fields.financial[0], **fields.params}
            if symbols:
                financial["symbol"] = symbols[0]
            return self._finish("run_financial", financial, origin, fragment)
        if not models and "model_id" not in fields.canon and "model_ids" not in fields.canon:
            reading = prose()
            if reading.models and not reading.model_problem and len(reading.models) == 1:
                models = list(reading.models)
        if not symbols and not fields.canon & _SYMBOL_KEYS:
            reading = prose()
            if reading.symbol:
                symbols = [reading.symbol]
        if action is None:
            action = "compare_models" if len(models) >= 2 else "train_model"
        errors: list[BridgeError] = []
        if not models:
            where = f" for the trial on {', '.join(symbols)}" if symbols else ""
            head = self._models.ids[:5]
            errors.append(err(f"no model named{where}; say which model to train", head))
        elif action in _SINGLE_MODEL_ACTIONS and len(models) > 1:
            errors.append(
                err(
                    f"{action} takes one model, got {', '.join(models)}; use compare_models", models
                )
            )
        elif action == "compare_models" and len(models) < 2:
            errors.append(err("compare_models needs at least two models", models))
        if not symbols:
            some = self._known_symbols[:5]
            errors.append(err("no symbol named; say which symbol to use (e.g. Symbol: SPX)", some))
        if errors:
            return [], errors
        if plans is not None and action != "compare_models" and self._needs_plan(fields.params):
            # A legacy trial config with timeframes: a step per timeframe (see plans.py).
            for symbol in symbols:
                pairs = [(models[0], list(fields.params["timeframes"]))]
                plan, errs = self._plan(pairs, symbol, fields.params, origin)
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
            got, errs = self._finish(action, params, origin, fragment)
            actions += got
            errors += errs
        return actions, errors

    def _finish(
        self, action: str, params: dict[str, Any], origin: str, fragment: str | None
    ) -> tuple[list[ActionRequest], list[BridgeError]]:
        validated, problems = self._validate(action, params)
        if problems:
            return [], [BridgeError(message=p, origin=origin, fragment=fragment) for p in problems]
        return [ActionRequest(action=action, params=validated, origin=origin)], []

    def _validate(self, action: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        try:
            params = _canonical_source(params)
        except _Invalid as exc:
            return params, [f"{action}: {exc.message}"]
        schema = self._schemas.get(action)
        if schema is None:
            return params, []
        params = _fit_to_schema(schema, params)
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

    # -- reading fields ------------------------------------------------------------------------------
    def _read_fields(
        self, raw: Mapping[str, Any], cache: dict[str, str | None], *, financial: bool
    ) -> _Fields:
        fields = _Fields()
        for key, value in raw.items():
            if not isinstance(key, str):
                continue
            canon = _KEY_SYNONYMS.get(_norm_key(key))
            if canon is None or canon in fields.canon:
                if canon is None:
                    fields.extras[key] = value
                continue
            fields.canon.add(canon)
            try:
                fields.values[key] = self._read_value(canon, key, value, fields, cache, financial)
            except _Invalid as exc:
                fields.errors.append(exc)
        if "date_range" in fields.params:
            span = fields.params.pop("date_range")
            for k in ("start", "end"):
                if k in span:
                    fields.params.setdefault(k, span[k])
        try:
            _check_dates(fields.params)
        except _Invalid as exc:
            fields.errors.append(exc)
        return fields

    def _read_value(
        self,
        canon: str,
        key: str,
        value: Any,
        fields: _Fields,
        cache: dict[str, str | None],
        financial: bool,
    ) -> Any:
        if canon == "symbol" and not isinstance(value, (list, tuple)):
            try:
                symbol = self._explicit_symbol(value, cache)
            except _Invalid:
                if len(_split_list(value)) < 2:
                    raise
            else:
                fields.symbols.append(symbol)
                return symbol
        if canon in _SYMBOL_KEYS:
            out = [self._explicit_symbol(v, cache) for v in _split_list(value)]
            fields.symbols.extend(s for s in out if s not in fields.symbols)
            return out
        if canon in _MODEL_KEYS:
            single = canon == "model_id" and not isinstance(value, (list, tuple))
            names = self._explicit_models(value, single=single, financial=financial)
            for kind, mid in names:
                target = fields.financial if kind == "financial" else fields.models
                if mid not in target:
                    target.append(mid)
            ids = [mid for _kind, mid in names]
            return ids[0] if single and len(ids) == 1 else ids
        percent_key = canon in ("train_ratio", "stop_loss") and _PERCENT_KEY_RE.search(key)
        if percent_key and isinstance(value, (int, float, str)) and "%" not in str(value):
            value = f"{value}%"
        normalised = _NORMALISERS[canon](value)
        fields.params[canon] = normalised
        return normalised

    def _explicit_symbol(self, value: Any, cache: dict[str, str | None]) -> str:
        if not isinstance(value, str):
            raise _Invalid(f"a symbol must be text, got {value!r}")
        cleaned = _clean_name(value).lstrip("$")
        if not cleaned:
            raise _Invalid("no symbol given")
        hit = self._cached_symbol(cleaned, cache)
        if hit:
            return hit
        close = difflib.get_close_matches(cleaned.upper(), self._known_symbols, n=3, cutoff=0.6)
        hint = _hint(close) or "; run 'mltrainer data list' to see what is available"
        raise _Invalid(f"unknown symbol '{cleaned}'{hint}", close)

    def _cached_symbol(self, token: str, cache: dict[str, str | None]) -> str | None:
        if token not in cache:
            hit = self.resolve_symbol(token)
            if hit is None and token != token.upper():
                hit = self.resolve_symbol(token.upper())
            cache[token] = hit
        return cache[token]

    def _explicit_models(
        self, value: Any, *, single: bool, financial: bool
    ) -> list[tuple[str, str]]:
        if isinstance(value, str) and single:
            try:
                return [self._explicit_model(value, financial=financial)]
            except _Invalid:
                parts = _split_list(value)
                if len(parts) < 2:
                    raise
                return [self._explicit_model(p, financial=financial) for p in parts]
        items = _split_list(value)
        if not items:
            raise _Invalid("no model named")
        return [self._explicit_model(v, financial=financial) for v in items]

    def _explicit_model(self, value: Any, *, financial: bool) -> tuple[str, str]:
        if not isinstance(value, str):
            raise _Invalid(f"a model id must be text, got {value!r}")
        cleaned = _clean_name(value)
        if not cleaned or cleaned.lower() in ("none", "null", "n/a"):
            raise _Invalid("no model named", self._models.ids[:5])
        if financial and not self._financial.ids:
            return "financial", cleaned  # nothing to check against; the executor will
        order = [("ml", self._models), ("financial", self._financial)]
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
        close = _unique([*self._models.suggest(cleaned), *self._financial.suggest(cleaned)])[:5]
        hint = _hint(close) or "; run 'mltrainer models list' to see all models"
        raise _Invalid(f"unknown model '{cleaned}'{hint}", close)

    # -- tier 4: prose ---------------------------------------------------------------------------------
    def _from_prose(
        self, reading: _Prose, plans: list[Plan]
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
                    err(f"no model named{where}; say which model to train", self._models.ids[:5])
                )
        errors += [err(e.message, e.suggestions, frag) for e, frag in reading.param_errors]
        symbol = reading.symbol
        if errors or symbol is None:
            return [], errors
        if reading.plan_pairs:
            plan, errors = self._plan(reading.plan_pairs, symbol, reading.params)
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
        return self._finish(action, params, "prose", None)

    def _read_prose(self, text: str, cache: dict[str, str | None]) -> _Prose:
        reading = _Prose(intent=_asks_for_something(text))
        self._prose_symbols(text, cache, reading)
        mentions = self._mentions(text)
        phrases, reading.unknown_phrase = self._phrase_models(text)
        compared = _unique(_within(mentions, _sentences(text, _COMPARE_RE)))
        if len(compared) >= 2:
            reading.models = compared
        else:
            # A "using the X model" phrase beats a bare mention; several names are narrowed
            # to the sentences that ask for something before giving up.
            named = phrases or mentions
            distinct = _unique(mid for _pos, mid in named)
            if len(distinct) > 1:
                narrowed = _unique(_within(named, _sentences(text, _INTENT_RE)))
                distinct = narrowed if narrowed else distinct
            pairs = self._plan_pairs(text, named, distinct)
            if pairs:
                reading.plan_pairs = pairs
                reading.models = [mid for mid, _tfs in pairs]
            elif len(distinct) == 1:
                reading.models = distinct
            elif distinct:
                reading.model_problem = _Invalid(
                    f"several models named ({', '.join(distinct)}); say which one to train "
                    "or ask to compare them",
                    distinct,
                )
        self._prose_params(text, reading)
        return reading

    # -- plans ------------------------------------------------------------------------------------
    def _plan_pairs(
        self, text: str, named: list[tuple[int, str]], distinct: list[str]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """(model, timeframes) pairs when the reply proposes a step per model and timeframe:
        several models each given its own timeframe, or one model whose timeframes the
        train_model action cannot take as they are (its schema has a horizon, no timeframes).
        Only sentences that propose work count (see :mod:`mltrainer.agent.plans`)."""
        if not distinct:
            return []
        spans = [
            (a, b)
            for a, b in _sentences(text, _PLAN_INTENT_RE)
            if not (_REPORT_METRIC_RE.search(text, a, b) and _REPORT_PAST_RE.search(text, a, b))
        ]
        inside = [(p, m) for p, m in named if any(a <= p < b for a, b in spans)]
        frames = _timeframe_mentions(text)
        schema = self._schemas.get("train_model")
        single_ok = schema is not None and "timeframes" not in schema.model_fields
        if len(_unique(m for _p, m in inside)) < (1 if single_ok else 2) or not frames:
            return []
        if len(distinct) == 1 and not single_ok:
            return []
        return bind_timeframes(inside, frames) or []

    def _needs_plan(self, params: Mapping[str, Any]) -> bool:
        """Timeframes that train_model cannot take as they are (it takes one horizon)."""
        schema = self._schemas.get("train_model")
        return (
            bool(params.get("timeframes"))
            and schema is not None
            and "timeframes" not in schema.model_fields
        )

    def _plan(
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
                validated, problems = self._validate("train_model", params)
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
        schema = self._schemas.get("train_model")
        if schema is None:
            return params
        declared = schema.model_fields
        takes = self._model_params.get(mid)
        out: dict[str, Any] = {}
        for key, value in params.items():
            if key in _HYPERPARAMS and key not in declared:
                name = key
                if takes is not None and key not in takes:
                    name = _HYPERPARAM_ALIASES.get(key, key)
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

    def _prose_symbols(self, text: str, cache: dict[str, str | None], reading: _Prose) -> None:
        found: list[tuple[int, str, bool]] = []
        candidates = [(m.start(), m.group(1)) for m in _TICKER_RE.finditer(text)]
        candidates += [(m.start(), m.group()) for m in _SP500_RE.finditer(text)]
        for start, token in sorted(candidates):
            if len(token) > 15 or token in _SYMBOL_STOPWORDS or token in self._model_words:
                continue
            hit = self._cached_symbol(token, cache)
            if hit is None and " " in token:
                hit = self._cached_symbol(token.replace(" ", ""), cache)
            if hit is None:
                continue
            is_primary = bool(_PRIMARY_CTX_RE.search(text, max(0, start - 40), start))
            found.append((start, hit, is_primary))
        reading.symbols = _unique(sym for _s, sym, _p in found)
        primary = _unique(sym for _s, sym, p in found if p)
        if len(primary) == 1:
            reading.symbol = primary[0]
        elif not primary and len(reading.symbols) == 1:
            reading.symbol = reading.symbols[0]

    def _build_forms(self) -> tuple[dict[tuple[str, ...], str], set[str], int]:
        forms: dict[tuple[str, ...], str] = {}

        def add(text: str, target: str) -> None:
            toks = tuple(t.lower() for t in _WORD_TOKEN_RE.findall(text))
            if toks and toks not in _PROSE_EXCLUDED_FORMS:
                forms.setdefault(toks, target)

        for mid in self._models.ids:
            add(mid, mid)
        for mid in self._models.ids:
            add(_norm_id(mid).replace("_", ""), mid)
        for alias, target in self._models.aliases.items():
            add(alias, target)
        for fam, target in self._models.families.items():
            add(fam, target)
        for stem, target in self._models.prefixes.items():
            add(stem, target)
        heads = {form[0] for form in forms}
        longest = max((len(form) for form in forms), default=0)
        return forms, heads, longest

    def _mentions(self, text: str) -> list[tuple[int, str]]:
        """Registry models named in ``text``: (position, id), longest form first."""
        toks = [(m.start(), m.end(), m.group()) for m in _WORD_TOKEN_RE.finditer(text)]
        out: list[tuple[int, str]] = []
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
                out.append((toks[i][0], target))
                step = n
                break
            i += step
        return out

    def _unknown_phrase(self, name: str) -> _Invalid:
        financial = self._financial.lookup(name)
        if financial:
            return _Invalid(
                f"{financial} is a financial model, not a trainable one; use run_financial",
                [financial],
            )
        close = self._models.suggest(name)
        hint = _hint(close) or "; run 'mltrainer models list' to see all models"
        return _Invalid(f"unknown model '{name}'{hint}", close)

    def _phrase_models(self, text: str) -> tuple[list[tuple[int, str]], _Invalid | None]:
        """Models named in "using the X model" phrases (position, id); the first unknown name."""
        ids: list[tuple[int, str]] = []
        unknown: _Invalid | None = None
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
                unknown = self._unknown_phrase(name)
        return ids, unknown

    def _prose_params(self, text: str, reading: _Prose) -> None:
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
                        for tf in _timeframes(raw):
                            if tf not in timeframes:
                                timeframes.append(tf)
                    elif name == "dates":
                        start = _start(m.group(1))
                        has_end = bool(m.lastindex and m.lastindex >= 2 and m.group(2))
                        end = _end(m.group(2)) if has_end else None
                        scalars.setdefault("start", []).append((start, snippet))
                        if end is not None:
                            scalars.setdefault("end", []).append((end, snippet))
                    else:
                        groups = m.groupdict()
                        raw = groups["num"] + ("%" if groups.get("pct") else "")
                        if groups.get("unit"):
                            raw += " " + groups["unit"]
                        value = _NORMALISERS[name](raw)
                        scalars.setdefault(name, []).append((value, snippet))
                except _Invalid as exc:
                    reading.param_errors.append((exc, _fragment(snippet)))
        for name, found in scalars.items():
            values = _unique(json.dumps(v) for v, _s in found)
            if len(values) > 1:
                shown = ", ".join(str(v) for v in _unique_values(v for v, _s in found))
                reading.param_errors.append(
                    (
                        _Invalid(f"the reply gives conflicting values for {name}: {shown}"),
                        found[0][1],
                    )
                )
            else:
                reading.params[name] = found[0][0]
        if timeframes:
            reading.params["timeframes"] = timeframes
        try:
            _check_dates(reading.params)
        except _Invalid as exc:
            reading.param_errors.append((exc, ""))


# -- response shapes ----------------------------------------------------------------------------
def _split_response(response: Any) -> tuple[list[str], list[_ToolCall], list[BridgeError]]:
    """Text pieces and tool calls from a str, content blocks, an Anthropic or OpenAI message."""
    if response is None:
        return [], [], []
    if isinstance(response, bytes):
        response = response.decode("utf-8", errors="replace")
    if isinstance(response, str):
        return [response], [], []
    texts: list[str] = []
    calls: list[_ToolCall] = []
    if not isinstance(response, (list, tuple)):
        choices = _get(response, "choices")
        if isinstance(choices, (list, tuple)) and choices:
            response = _get(choices[0], "message") or choices[0]
    if isinstance(response, (list, tuple)):
        _read_blocks(response, texts, calls)
        return texts, calls, []
    if _get(response, "type") in ("text", "tool_use", "function_call"):
        _read_blocks([response], texts, calls)
        return texts, calls, []
    content = _get(response, "content")
    tool_calls = _get(response, "tool_calls")
    function_call = _get(response, "function_call")
    if content is None and tool_calls is None and function_call is None:
        if isinstance(response, Mapping):
            return [], [], []
        kind = type(response).__name__
        return (
            [],
            [],
            [BridgeError(message=f"cannot read a reply of type {kind}", origin="response")],
        )
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, (list, tuple)):
        _read_blocks(content, texts, calls)
    for tc in tool_calls or ():
        fn = _get(tc, "function") or tc
        calls.append(
            _ToolCall(_str_or_none(_get(tc, "id")), _get(fn, "name"), _get(fn, "arguments"))
        )
    if function_call is not None:
        calls.append(_ToolCall(None, _get(function_call, "name"), _get(function_call, "arguments")))
    return texts, calls, []


def _read_blocks(blocks: Iterable[Any], texts: list[str], calls: list[_ToolCall]) -> None:
    for block in blocks:
        if isinstance(block, str):
            texts.append(block)
            continue
        kind = _get(block, "type")
        if kind == "text":
            text = _get(block, "text")
            if isinstance(text, str):
                texts.append(text)
        elif kind == "tool_use":
            calls.append(
                _ToolCall(
                    _str_or_none(_get(block, "id")), _get(block, "name"), _get(block, "input")
                )
            )
        elif kind == "function_call":  # OpenAI Responses API
            call_id = _get(block, "call_id") or _get(block, "id")
            calls.append(
                _ToolCall(_str_or_none(call_id), _get(block, "name"), _get(block, "arguments"))
            )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _kv_blocks(text: str) -> list[list[tuple[str, str, str]]]:
    """Runs of ``key: value`` lines with known keys; a repeated key starts a new run."""
    blocks: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _KV_RE.match(_MARKDOWN_RE.sub("", line))
        nk = _norm_key(m.group(1)) if m else ""
        canon = _KEY_SYNONYMS.get(nk) or (nk if nk in _KV_EXTRA_KEYS else None)
        if m is None or canon is None:
            if current:
                blocks.append(current)
            current, seen = [], set()
            continue
        if canon in seen:
            blocks.append(current)
            current, seen = [], set()
        current.append((m.group(1).strip(), m.group(2).strip(), line.strip()))
        seen.add(canon)
    if current:
        blocks.append(current)
    return blocks


def _fit_to_schema(schema: type[BaseModel], params: dict[str, Any]) -> dict[str, Any]:
    """Move hyper-parameters (and a source) the schema does not declare into its
    ``params`` mapping."""
    declared = getattr(schema, "model_fields", {})
    if "params" not in declared:
        return params
    # A source the action does not take itself still reaches the compliance gateway,
    # which checks sources nested in ``params`` too.
    hyper = (*_HYPERPARAMS, "source")
    moved = {k: params[k] for k in hyper if k in params and k not in declared}
    if not moved:
        return params
    out = {k: v for k, v in params.items() if k not in moved}
    inner = out.get("params")
    out["params"] = {**moved, **(inner if isinstance(inner, Mapping) else {})}
    return out


def _timeframe_mentions(text: str) -> list[tuple[int, dict[str, Any]]]:
    """Timeframes in prose with their positions, read by the same patterns as the params."""
    out: list[tuple[int, dict[str, Any]]] = []
    for name, rx in _PROSE_PARAM_PATTERNS:
        if name != "timeframes":
            continue
        for m in rx.finditer(text):
            if _NOT_TIMEFRAME_CTX_RE.search(text, max(0, m.start() - 30), m.start()):
                continue
            with contextlib.suppress(_Invalid):
                out += [(m.start(), tf) for tf in _timeframes(f"{m['lo']}-{m['hi']} {m['unit']}")]
    return sorted(out, key=lambda x: x[0])


def _sentences(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
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


def _within(found: Iterable[tuple[int, str]], spans: Sequence[tuple[int, int]]) -> list[str]:
    return [mid for pos, mid in found if any(a <= pos < b for a, b in spans)]


def _asks_for_something(text: str) -> bool:
    """A sentence has a request word (trial, train, compare...) and is not a result report."""
    for a, b in _sentences(text, _INTENT_RE):
        sentence = text[a:b]
        if not (_REPORT_METRIC_RE.search(sentence) and _REPORT_PAST_RE.search(sentence)):
            return True
    return False


def _mask_code_fences(text: str) -> str:
    spans = [
        (m.start(), m.end())
        for m in _FENCE_RE.finditer(text)
        if m.group(1).lower() not in _SETTINGS_FENCE_LANGS
    ]
    return _mask(text, spans)


def _unique_values(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
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
