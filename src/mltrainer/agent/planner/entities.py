"""What a message names: symbols, models, dates, with their positions.

The offline planner reads a user's message in two passes. This module is the first: it
finds the entities (with the bridge's shared readers, :mod:`mltrainer.agent.bridge.readers`,
plus the names people use in sentences: "Apple", "the S&P 500", "GBM", "a 20/100 moving
average crossover", "since 2015", "the last five years of data") and writes the message
again with each entity replaced by its kind (``qsym``, ``qmdl``, ``qyr``, ``qnum``). The
intent classifier reads that delexicalised text, so it learns how requests are phrased
rather than which tickers appear in its training sentences; the slot readers
(:mod:`.slots`, :mod:`.finance`) read the entities.

Nothing here guesses: a model name is a registry id, an alias or a family with its
windows; a symbol is what the catalogue resolver accepts. Names that look like a symbol or
a model but are neither are kept as *near misses* with :mod:`difflib` suggestions, so the
planner can ask "unknown symbol 'APPL', did you mean AAPL?".
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..bridge.readers import SYMBOL_STOPWORDS, Vocabulary, norm_id

__all__ = [
    "Span",
    "ModelMention",
    "DateRange",
    "Tagged",
    "Tagger",
    "NUMBER_WORDS",
    "number_value",
    "BARS_PER",
]

# -- numbers in words ----------------------------------------------------------------------------
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "hundred": 100,
    "couple": 2,
    "single": 1,
}
BARS_PER = {"day": 1, "bar": 1, "session": 1, "week": 5, "month": 21, "quarter": 63, "year": 252}
"""Trading bars per unit, as the goal and plan readers count them."""

_NUM_WORD = "|".join(sorted((w for w in NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
NUM = rf"(?:\d+(?:\.\d+)?|{_NUM_WORD})"


def number_value(text: str) -> float:
    """``"10"`` -> 10.0, ``"two"`` -> 2.0, ``"1,000"`` -> 1000.0."""
    t = text.strip().lower().replace(",", "")
    return float(NUMBER_WORDS[t]) if t in NUMBER_WORDS else float(t)


# -- model names people write --------------------------------------------------------------------
# phrase -> registry id, or "@family" for a family whose windows may be given ("@tsmom").
_MODEL_NAMES: dict[str, str] = {
    "gbm": "gradient_boosting",
    "gradient boosting machine": "gradient_boosting",
    "gradient boosted trees": "gradient_boosting",
    "gradient boosted tree": "gradient_boosting",
    "gradient boosting": "gradient_boosting",
    "boosted trees": "gradient_boosting",
    "hist gradient boosting": "hist_gradient_boosting",
    "histogram gradient boosting": "hist_gradient_boosting",
    "hgb": "hist_gradient_boosting",
    "random forest": "random_forest",
    "random forests": "random_forest",
    "rf": "random_forest",
    "light gbm": "lightgbm",
    "lgbm": "lightgbm",
    "xg boost": "xgboost",
    "xgb": "xgboost",
    "cat boost": "catboost",
    "linear regression": "ols",
    "ordinary least squares": "ols",
    "least squares": "ols",
    "ridge regression": "ridge",
    "lasso regression": "lasso",
    "elastic net": "elastic_net",
    "elasticnet": "elastic_net",
    "enet": "elastic_net",
    "logistic regression": "logistic",
    "logit": "logistic",
    "svm": "svr_rbf",
    "support vector machine": "svr_rbf",
    "support vector machines": "svr_rbf",
    "support vector regression": "svr_rbf",
    "svr": "svr_rbf",
    "svc": "svc_rbf",
    "support vector classifier": "svc_rbf",
    "knn": "@knn",
    "k nn": "@knn",
    "k nearest neighbours": "@knn",
    "k nearest neighbors": "@knn",
    "nearest neighbours": "@knn",
    "nearest neighbors": "@knn",
    "nearest neighbour": "@knn",
    "nearest neighbor": "@knn",
    "neural net": "mlp_regressor_small",
    "neural network": "mlp_regressor_small",
    "neural networks": "mlp_regressor_small",
    "mlp": "mlp_regressor_small",
    "multilayer perceptron": "mlp_regressor_small",
    "multi layer perceptron": "mlp_regressor_small",
    "lstm": "lstm_regressor",
    "gru": "gru_regressor",
    "tcn": "tcn_regressor",
    "transformer": "transformer_regressor",
    "decision tree": "decision_tree_regressor",
    "regression tree": "decision_tree_regressor",
    "extra trees": "extra_trees",
    "extremely randomized trees": "extra_trees",
    "extremely randomised trees": "extra_trees",
    "adaboost": "adaboost_regressor",
    "ada boost": "adaboost_regressor",
    "bagging": "bagging_regressor",
    "bagged trees": "bagging_regressor",
    "gaussian process": "gaussian_process_regressor",
    "naive bayes": "gaussian_nb",
    "linear discriminant analysis": "lda",
    "linear discriminant": "lda",
    "quadratic discriminant": "qda",
    "huber regression": "huber",
    "theil sen": "theil_sen",
    "bayesian ridge": "bayesian_ridge",
    "partial least squares": "pls_regression",
    "pls": "pls_regression",
    "kernel ridge": "kernel_ridge_rbf",
    "quantile regression": "quantile_median",
    "median regression": "quantile_median",
    "sgd": "sgd_regressor",
    "baseline": "dummy_mean",
    "mean baseline": "dummy_mean",
    "garch": "garch_normal",
    "gjr garch": "gjr_garch_normal",
    "gjr": "gjr_garch_normal",
    "tarch": "tarch_t",
    "zarch": "tarch_t",
    "arch": "arch_5_t",
    "ewma": "riskmetrics_ewma",
    "riskmetrics": "riskmetrics_ewma",
    "arima": "@arima",
    "arma": "@arima",
    "sarima": "sarima_1_0_0_s5",
    "seasonal arima": "sarima_1_0_0_s5",
    "exponential smoothing": "ses_returns",
    "ses": "ses_returns",
    "holt": "holt_logprice",
    "holt winters": "holt_logprice",
    "theta method": "theta_logprice",
    "theta model": "theta_logprice",
    "kalman filter": "uc_local_level",
    "kalman": "uc_local_level",
    "local level": "uc_local_level",
    "autoregression": "@autoreg",
    "autoregressive": "@autoreg",
    "autoreg": "@autoreg",
    "hmm": "@hmm",
    "hidden markov": "@hmm",
    "hidden markov model": "@hmm",
    "regime switching": "@hmm",
    "regime model": "@hmm",
    "regimes": "@hmm",
    "regime": "@hmm",
    "markov switching": "markov_switching_2state",
    "moving average crossover": "@ma_crossover",
    "moving average cross": "@ma_crossover",
    "moving averages crossover": "@ma_crossover",
    "moving average crossovers": "@ma_crossover",
    "ma crossover": "@ma_crossover",
    "ma cross": "@ma_crossover",
    "sma crossover": "@ma_crossover",
    "sma cross": "@ma_crossover",
    "golden cross": "@ma_crossover",
    "crossover": "@ma_crossover",
    "ema crossover": "@ema_crossover",
    "ema cross": "@ema_crossover",
    "trend filter": "@sma_trend",
    "sma trend": "@sma_trend",
    "moving average trend": "@sma_trend",
    "momentum": "@tsmom",
    "time series momentum": "@tsmom",
    "tsmom": "@tsmom",
    "trend following": "@tsmom",
    "rsi": "@rsi",
    "rsi reversion": "@rsi",
    "rsi mean reversion": "@rsi",
    "mean reversion": "@rsi",
    "bollinger": "@bollinger",
    "bollinger bands": "@bollinger",
    "bollinger band": "@bollinger",
    "donchian": "@donchian",
    "donchian breakout": "@donchian",
    "channel breakout": "@donchian",
    "breakout": "@donchian",
    "turtle": "donchian_breakout_55",
    "dual momentum": "@dual_momentum",
    "vol targeting": "@vol_target",
    "volatility targeting": "@vol_target",
    "vol target": "@vol_target",
    "macd": "@macd",
}

# family -> (id prefix, window parameter names, default id)
_FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ma_crossover": ("ma_crossover_", ("fast", "slow"), "ma_crossover_50_200"),
    "ema_crossover": ("ema_crossover_", ("fast", "slow"), "ema_crossover_12_26"),
    "sma_trend": ("sma_trend_", ("window",), "sma_trend_200"),
    "tsmom": ("tsmom_", ("lookback",), "tsmom_252"),
    "rsi": ("rsi_reversion_", ("window",), "rsi_reversion_14"),
    "bollinger": ("bollinger_reversion_", ("window", "n_std"), "bollinger_reversion_20_2"),
    "donchian": ("donchian_breakout_", ("window",), "donchian_breakout_20"),
    "dual_momentum": ("dual_momentum_", ("lookback",), "dual_momentum_252"),
    "vol_target": ("vol_target_", ("window",), "vol_target_20"),
    "macd": ("macd_", ("fast", "slow", "signal"), "macd_12_26_9"),
    "knn": ("knn_regressor_", ("n_neighbors",), "knn_regressor_20"),
    "autoreg": ("autoreg_", ("lags",), "autoreg_bic"),
    "arima": ("arima_", ("p", "d", "q"), "arima_1_0_0"),
    "hmm": ("hmm_", ("n_states",), "hmm_2state"),
}
# Registry ids that start with a family prefix: which family they belong to.
_ID_FAMILY = tuple((prefix, fam) for fam, (prefix, _p, _d) in _FAMILIES.items())

# Regression id -> its classification sibling (when the name is not regular).
_CLASSIFIER_OF = {
    "ols": "logistic",
    "lasso": "logistic_l1",
    "elastic_net": "logistic_elastic_net",
    "svr_rbf": "svc_rbf",
    "svr_linear": "linear_svc",
    "linear_svr": "linear_svc",
    "nu_svr": "nu_svc",
    "knn_regressor_5": "knn_classifier_15",
    "knn_regressor_20": "knn_classifier_15",
    "knn_regressor_50": "knn_classifier_50",
    "dummy_mean": "dummy_prior",
    "sgd_regressor": "sgd_classifier",
    "gaussian_process_regressor": "gaussian_process_classifier",
}
_CLASSIFY_RE = re.compile(
    r"\b(?:classifiers?|classification|direction(?:al)?|up[\s/-]+(?:or|vs\.?|/)[\s/-]*down|"
    r"sign\s+of\s+(?:the\s+)?(?:next\s+)?returns?)\b",
    re.I,
)
_LONG_ONLY_RE = re.compile(
    r"\blong[\s-]*only\b|\bno\s+short(?:s|ing)?\b|\bwithout\s+short(?:s|ing)?\b|"
    r"\blong[\s/-]+(?:or[\s-]+)?flat\b",
    re.I,
)

# -- symbols people write -----------------------------------------------------------------------
_ENGLISH = frozenset(
    """
    a an and as at be by do for from go in is it me my of on or so the to up us we with
    all any are can did has had may new not now off one out per see set two was who why
    """.split()
)
# Capitalised words that are finance vocabulary, not tickers ("what's the VaR", "CAPM beta").
_NOT_TICKERS = SYMBOL_STOPWORDS | frozenset(
    """
    CAPM HRP GARCH EGARCH GJR HMM ATM OTM ITM DSR PSR IC OLS SVM SVR SVC RSI MACD LGBM XGB
    GBM RF KNN LSTM GRU TCN MLP GFC COVID FF CRR IV EU UK YTD PCA NN AR MA ARIMA SARIMA EWMA
    ARCH TARCH LDA QDA SGD PLS BPS BP T K S Q R ID IDS OK PLEASE HI HELLO THANKS WHAT WHICH
    HOW WHY WHEN WHERE WHO SHOW LIST GIVE TELL HAVE HAS DID DOES IS ARE ANY SOME BETA ALPHA
    SHARPE KELLY DATA GOAL TARGET ES MC OTC LONG SHORT BUY SELL HOLD NOT YES
    """.split()
)
_TICKER_TOKEN_RE = re.compile(
    r"(?<![\w^$/&.-])\$?(\^?[A-Za-z][A-Za-z0-9_]*(?:[&/.-][A-Za-z0-9]+)*)"
)
_SYMBOL_CTX_RE = re.compile(
    r"\b(?:on|for|of|in|with|trade|trading|ticker|symbol|stock|buy|sell|hold|against|vs\.?|"
    r"versus|and|to|about|between)\s+(?:the\s+)?(?:symbol\s+|ticker\s+|stock\s+)?\$?$",
    re.I,
)
_ALIAS_BEFORE_RE = re.compile(r"\bthe\s+$", re.I)
_ALIAS_AFTER_RE = re.compile(
    r"(?:'s)?(?:\s+(?:exchange\s+rate|fx\s+rate|rate|index|stock|shares|share\s+price|prices?|"
    r"futures|composite|series|data))?(?![\w&/])",
    re.I,
)
_PHRASE_TOKEN_RE = re.compile(r"[a-z0-9]+|&|\^", re.I)
_PHRASE_GAP_RE = re.compile(r"[\s_/-]{0,3}")
_FACTOR_WORDS_RE = re.compile(r"fama|french|\bff3?\b", re.I)
_UPPER_ONLY_ALIASES = frozenset({"COMP", "NDX", "BTC", "GSPC", "IXIC"})

# -- dates ---------------------------------------------------------------------------------------
_MONTHS = (
    {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
    | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
    | {"sept": 9}
)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:19[5-9]\d|20[0-4]\d)"
_DAY_DATE = rf"{_YEAR}-\d{{2}}-\d{{2}}"
_MONTH_DATE = rf"(?:{_MONTH})\.?\s+{_YEAR}"
_NOT_A_YEAR = (
    r"(?!\s*(?:trials?|paths|simulations|steps|bps|basis|shares|units|dollars|usd|minutes|"
    r"mins|hours|folds|workers|k\b|%|days?|bars?))"
)
_WHEN = rf"(?<![$\d.,])(?:{_DAY_DATE}|{_MONTH_DATE}|{_YEAR}{_NOT_A_YEAR})"
_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.I))
    for kind, rx in (
        (
            "range",
            rf"\b(?:from\s+|between\s+|over\s+|during\s+|for\s+|in\s+)?(?P<a>{_WHEN})\s*"
            rf"(?:-|–|—|to|through|thru|until|till|and|up\s+to)\s*(?P<b>{_WHEN})(?![\d-])",
        ),
        (
            "start",
            rf"\b(?:since|from|starting(?:\s+(?:in|from))?|beginning(?:\s+in)?|as\s+of|"
            rf"after|post)[\s-]+(?P<a>{_WHEN})(?:\s+(?:on(?:wards?)?|forward|until\s+now))?",
        ),
        ("start", rf"\b(?P<a>{_WHEN})\s+(?:on(?:wards?)?|and\s+later|forward)\b"),
        (
            "end",
            rf"\b(?:until|till|through|thru|up\s+to|to|before|ending(?:\s+in)?|pre)[\s-]+"
            rf"(?P<a>{_WHEN})(?![\d-])",
        ),
        ("year", rf"\b(?:in|during|for|of)\s+(?P<a>{_YEAR})(?![\d-])"),
    )
)
_LAST_RE = re.compile(
    rf"\b(?:the\s+)?(?:last|past|latest|most\s+recent|final|trailing)\s+(?P<n>{NUM}\s+)?"
    r"(?P<unit>years?|months?|decades?)(?:\s+of\s+(?:the\s+)?(?:data|history|prices))?",
    re.I,
)
_WINDOW_NUM = r"(\d{1,3})"
_EMA_RE = re.compile(r"\b(?:ema|exponential)\b", re.I)
_ORDER_NAME_RE = re.compile(
    r"(?<![\w])(?P<k>ARMA|AR|MA)\s*\(\s*(?P<p>\d)\s*(?:,\s*(?P<q>\d)\s*)?\)"
)
_GENERIC_NAMES = frozenset(
    {
        "mean reversion",
        "breakout",
        "regime",
        "regimes",
        "regime model",
        "crossover",
        "trend following",
    }
)
_ORDERS_RE = re.compile(r"\s*\(\s*(\d)\s*(?:,\s*(\d)\s*)?(?:,\s*\d\s*)?\)")
_RISK_FREE_AFTER_RE = re.compile(r"\s*(?:=|:|rate\b|of\s+\d|\d)", re.I)
_ERROR_DISTS = (
    (re.compile(r"\bskew(?:ed)?[\s-]*(?:t|student)\b|\bskew", re.I), "skewt"),
    (
        re.compile(
            r"\bstudent|\bt[\s-]+(?:errors|distribution|innovations)|\bt-dist|\bfat[\s-]+tail", re.I
        ),
        "t",
    ),
    (re.compile(r"\bged\b|generali[sz]ed[\s-]+error", re.I), "ged"),
)

# -- bare numbers for the classifier -------------------------------------------------------------
_NUMBER_TOKEN_RE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w.])|(?<![\w.])\d+(?=[a-z%])", re.I)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    value: Any
    text: str = ""


@dataclass
class ModelMention:
    """A model named in the message: the registry id and the windows given for it."""

    id: str
    start: int
    end: int
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    family: str | None = None
    explicit: bool = False
    """Windows or orders were written for it ("a 3-state HMM", "RSI(2)")."""


@dataclass
class DateRange:
    start: str | None = None
    end: str | None = None
    last: tuple[float, str] | None = None
    """("the last five years of data") -> (5.0, "years"): relative to the data's end."""
    spans: list[tuple[int, int]] = field(default_factory=list)
    conflict: str | None = None


@dataclass
class Tagged:
    """A message with its entities found; ``masked`` has each entity blanked out."""

    text: str
    symbols: list[Span] = field(default_factory=list)
    models: list[ModelMention] = field(default_factory=list)
    dates: DateRange = field(default_factory=DateRange)
    near_symbols: list[tuple[str, list[str]]] = field(default_factory=list)
    """Words in a symbol's place that the catalogue does not know, with suggestions."""
    classify: bool = False
    long_only: bool = False
    vol_target: bool = False
    """"with volatility targeting" beside another model: a position rule, not a model."""
    delexicalised: str = ""
    masked: str = ""

    def symbol_ids(self, exclude: Iterable[str] = ()) -> list[str]:
        skip = set(exclude)
        return list(dict.fromkeys(s.value for s in self.symbols if s.value not in skip))

    def model_ids(self) -> list[str]:
        return list(dict.fromkeys(m.id for m in self.models))


def _overlaps(a: int, b: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(a < e and s < b for s, e in spans)


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


class Tagger:
    """Finds the entities of a message with a :class:`Vocabulary` (the bridge's readers).

    ``aliases`` maps names written in sentences to catalogue symbols (the data layer's
    alias table); the resolver has the last word on every one of them. ``model_params``
    (model id -> parameter names) says which windows a model takes.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        aliases: Mapping[str, str] | None = None,
        model_params: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.vocab = vocab
        self._ids = set(vocab.models.ids)
        self._model_params = {k: set(v) for k, v in (model_params or {}).items()}
        known = {s.upper() for s in vocab.known_symbols}
        self._known = known
        keys = {k.upper() for k in (aliases or {})} | {s for s in known if not s.isalnum()}
        self._aliases = PhraseIndex(
            {k: k for k in keys if len(k) >= 2 and k not in _UPPER_ONLY_ALIASES}
        )
        names = {k: v for k, v in _MODEL_NAMES.items() if v.startswith("@") or v in self._ids}
        self._model_names = PhraseIndex(names, plurals=True)
        self._family_members = self._members()

    # -- entry point ----------------------------------------------------------------------
    def tag(self, text: str, *, near_misses: bool = True) -> Tagged:
        """Entities of ``text``; ``near_misses=False`` skips the "did you mean" search (the
        classifier's training sentences need none)."""
        t = Tagged(text=text)
        taken: list[tuple[int, int]] = []
        t.models = self._models(text, taken)
        t.vol_target = self._vol_target_rule(t.models, text)
        taken += [(m.start, m.end) for m in t.models]
        t.symbols = self._symbols(text, taken)
        taken += [(s.start, s.end) for s in t.symbols]
        t.dates = self._dates(text, taken)
        taken += t.dates.spans
        if near_misses:
            t.near_symbols = self._near_symbols(text, taken, t.symbols)
        t.classify = bool(_CLASSIFY_RE.search(text))
        t.long_only = bool(_LONG_ONLY_RE.search(text))
        if t.classify or t.long_only:
            for m in t.models:
                m.id = self._variant(m.id, classify=t.classify, long_only=t.long_only)
        t.masked = _blank(text, taken)
        t.delexicalised = self._delexicalise(text, t)
        return t

    # -- models -----------------------------------------------------------------------------
    def _models(self, text: str, taken: list[tuple[int, int]]) -> list[ModelMention]:
        found: list[ModelMention] = []
        for start, end, mid in self.vocab.mention_spans(text):
            fam = next((f for p, f in _ID_FAMILY if mid.startswith(p)), None)
            exact = norm_id(text[start:end]) == mid
            mention = ModelMention(mid, start, end, text[start:end])
            if fam is not None and not exact:
                mention = self._family_mention(fam, start, end, text)
            found.append(mention)
        spans = [(m.start, m.end) for m in found]
        for a, b, target in self._model_names.find(text):
            if _overlaps(a, b, spans):
                continue
            if text[a:b].lower() == "rf" and _RISK_FREE_AFTER_RE.match(text, b):
                continue  # "rf 2%" is the risk-free rate
            if target.startswith("@"):
                found.append(self._family_mention(target[1:], a, b, text))
            else:
                found.append(ModelMention(target, a, b, text[a:b]))
            spans.append((a, b))
        for m in _ORDER_NAME_RE.finditer(text):  # AR(1), MA(1), ARMA(2,1)
            if _overlaps(m.start(), m.end(), spans):
                continue
            p_, q_ = int(m["p"]), int(m["q"] or 0)
            orders = {"AR": (p_, 0, 0), "MA": (0, 0, p_), "ARMA": (p_, 0, q_)}[m["k"]]
            found.append(
                self._with_windows(
                    "arima", [float(x) for x in orders], m.start(), m.end(), m.group()
                )
            )
            spans.append(m.span())
        for mention in found:
            self._volatility_options(mention, text)
        found.sort(key=lambda x: x.start)
        return _one_per_family(_merge_adjacent(found, text))

    @staticmethod
    def _vol_target_rule(models: list[ModelMention], text: str) -> bool:
        """Drop a "with vol targeting" mention that qualifies another model; True if so."""
        for m in list(models):
            others = [o for o in models if o is not m]
            lead = text[max(0, m.start - 14) : m.start].lower()
            if (
                m.family == "vol_target"
                and others
                and re.search(r"\b(?:with|using|plus)\s+$", lead)
            ):
                models.remove(m)
                return True
        return False

    def _volatility_options(self, mention: ModelMention, text: str) -> None:
        """GARCH(p, q) orders and error distributions ("GARCH(1,1) with t errors")."""
        m = _ORDERS_RE.match(text, mention.end)
        if m and mention.family is None:
            mention.end = m.end()
            orders = (int(m[1]), int(m[2]) if m[2] else None)
            takes = self._model_params.get(mention.id, set())
            if {"p", "q"} <= takes and orders[1] is not None and orders != (1, 1):
                mention.params.update({"p": orders[0], "q": orders[1]})
        if not mention.id.endswith("_normal"):
            return
        near = text[max(0, mention.start - 24) : mention.end + 40]
        stem = mention.id[: -len("_normal")]
        for rx, suffix in _ERROR_DISTS:
            if rx.search(near) and f"{stem}_{suffix}" in self._ids:
                mention.id = f"{stem}_{suffix}"
                return

    def _family_mention(self, fam: str, start: int, end: int, text: str) -> ModelMention:
        if fam == "ma_crossover" and _EMA_RE.search(text, max(0, start - 25), end):
            fam = "ema_crossover"  # "an EMA 12/26 crossover"
        windows, a, b = self._windows(fam, text, start, end)
        return self._with_windows(fam, windows, min(a, start), max(b, end), text[start:end])

    def _with_windows(
        self, fam: str, windows: Sequence[float], start: int, end: int, name: str
    ) -> ModelMention:
        """The family member for ``windows``: the exact one, or the closest with the windows
        as parameters ("20/100 crossover" -> ma_crossover_20_50 with fast=20, slow=100)."""
        _prefix, names, default = _FAMILIES[fam]
        members = self._family_members.get(fam, {})
        mid = default if default in self._ids else next(iter(members), default)
        params: dict[str, Any] = {}
        if windows:
            values = tuple(windows)
            exact = next((i for i, w in members.items() if w[: len(values)] == values), None)
            if exact is not None and len(values) >= len(members[exact]):
                mid = exact
            else:
                mid = min(
                    members,
                    key=lambda i: (
                        sum(x != y for x, y in zip(members[i], values, strict=False)),
                        sum(abs(x - y) for x, y in zip(members[i], values, strict=False)),
                    ),
                    default=mid,
                )
                params = dict(zip(names, values, strict=False))
                takes = self._model_params.get(mid)
                if takes is not None:
                    params = {k: v for k, v in params.items() if k in takes}
        return ModelMention(mid, start, end, name, params, fam, explicit=bool(windows))

    def _members(self) -> dict[str, dict[str, tuple[float, ...]]]:
        """family -> {id: windows read from the id} ("ma_crossover_20_50" -> (20, 50))."""
        out: dict[str, dict[str, tuple[float, ...]]] = {}
        for fam, (prefix, names, _default) in _FAMILIES.items():
            members: dict[str, tuple[float, ...]] = {}
            for mid in self.vocab.models.ids:
                if not mid.startswith(prefix) or "long_only" in mid or mid.endswith("_prob"):
                    continue
                digits = re.findall(r"\d+", mid[len(prefix) :])
                if fam == "hmm" and "vol" in mid:
                    continue
                if len(digits) >= 1 and (fam != "vol_target" or "tsmom" not in mid):
                    members[mid] = tuple(float(d) for d in digits[: len(names)])
            out[fam] = members
        return out

    @staticmethod
    def _windows(fam: str, text: str, start: int, end: int) -> tuple[list[float], int, int]:
        """Windows written beside a family name, and the span they cover.

        After the name: "crossover 50/200", "RSI(2)", "momentum 126", "momentum with a
        6-month lookback", "knn with k=50". Before it: "20/100 moving average crossover",
        "126-day momentum", "3-state HMM". A number followed by "horizon", "ahead",
        "bps"... belongs to something else and is left alone."""
        after = text[end : end + 48]
        before = text[max(0, start - 32) : start]
        n = _WINDOW_NUM
        unit = r"(?P<unit>[\s-]*(?:days?|d|bars?|months?|weeks?|years?|states?|regimes?|neighbou?rs|lags?))?"
        not_other = (
            r"(?![\s-]*(?:days?[\s-]+|bars?[\s-]+)?(?:horizon|ahead|forward|out\b|holding|returns?|"
            r"predictions?|forecasts?|bps|bp\b|basis|%|percent|trials?|folds?|minutes?|hours?))"
        )
        if fam == "arima":
            m = re.match(rf"^\s*\(\s*{n}\s*,\s*{n}\s*,\s*{n}\s*\)", after)
            if m:
                return [float(m[1]), float(m[2]), float(m[3])], start, end + m.end()
            m = re.match(rf"^\s*\(\s*{n}\s*,\s*{n}\s*\)", after)  # ARMA(p, q)
            if m:
                return [float(m[1]), 0.0, float(m[2])], start, end + m.end()
            return [], start, end
        word = r"(?:window|lookback|look-back|look\s+back|formation\s+period|period|length|k|lags?|states?|n_neighbors)"
        lead = r"^\s*(?:with\s+|using\s+|on\s+)?(?:a\s+|an\s+|the\s+)?"
        two = [
            rf"^\s*\(?\s*{n}\s*(?:/|,|x|by|-|and|over|vs\.?)\s*{n}(?:\s*(?:/|,)\s*{n})?\s*\)?{not_other}",
            rf"{lead}fast\s*(?:=|of|:)?\s*{n}\s*(?:,|and)?\s*(?:a\s+)?slow\s*(?:=|of|:)?\s*{n}",
            rf"{lead}(?:windows?\s+(?:of\s+)?){n}[\s-]*(?:days?|d|bars?)?\s*(?:/|and|,|-)\s*{n}",
        ]
        one = [
            rf"^\s*\(\s*{n}\s*\)",
            rf"^[\s-]*{n}{unit}{not_other}\b",
            rf"{lead}{n}[\s-]*(?P<unit>days?|d|bars?|months?|weeks?|years?)[\s-]+{word}\b",
            rf"{lead}{word}\s*(?:of|=|:)?\s*{n}{unit}{not_other}\b",
            rf"{lead}{n}\s*(?P<unit>neighbou?rs|lags|states|regimes)\b",
        ]
        pats = two + one if len(_FAMILIES[fam][1]) >= 2 else one
        for rx in pats:
            m = re.match(rx, after, re.I)
            if m is None:
                continue
            vals = [float(g) for g in m.groups() if g is not None and g.isdigit()][:3]
            if not vals:
                continue
            u = (m.groupdict().get("unit") or "").strip(" -").lower()
            return [_to_bars(v, u) for v in vals], start, end + m.end()
        adj = r"(?:(?:sma|ema|simple|exponential|price|time[\s-]+series|trend|day|bar)[\s-]+)?$"
        sep = r"\s*(?:/|-|x|by|and|,|over)\s*"
        du = r"(?:[\s-]*(?:days?|d|bars?))?"
        m2 = re.search(rf"\b{n}{du}{sep}{n}{du}[\s-]+{adj}", before, re.I)
        if m2 and len(_FAMILIES[fam][1]) >= 2:
            return [float(m2[1]), float(m2[2])], start - (len(before) - m2.start()), end
        m1 = re.search(
            rf"\b{n}[\s-]*(?P<unit>days?|d|bars?|months?|weeks?|years?|states?|regimes?|"
            rf"neighbou?rs|lags?)[\s-]+{adj}",
            before,
            re.I,
        )
        if m1:
            u = m1["unit"].lower()
            return [_to_bars(float(m1[1]), u)], start - (len(before) - m1.start()), end
        m0 = re.search(
            rf"\b(?P<w>{_NUM_WORD})[\s-]+(?P<unit>states?|regimes?|months?|weeks?|years?)[\s-]+{adj}",
            before,
            re.I,
        )
        if m0:
            value = _to_bars(number_value(m0["w"]), m0["unit"].lower())
            return [value], start - (len(before) - m0.start()), end
        return [], start, end

    def _variant(self, mid: str, *, classify: bool, long_only: bool) -> str:
        out = mid
        if classify and "classifier" not in out and not out.startswith("logistic"):
            for cand in self._classifier_candidates(out):
                if cand in self._ids:
                    out = cand
                    break
        if long_only and not out.endswith("long_only"):
            cand = out + "_long_only"
            if cand in self._ids:
                out = cand
        return out

    @staticmethod
    def _classifier_candidates(mid: str) -> list[str]:
        out = []
        if mid in _CLASSIFIER_OF:
            out.append(_CLASSIFIER_OF[mid])
        if "regressor" in mid:
            out.append(mid.replace("regressor", "classifier"))
        out.append(mid + "_classifier")
        parts = mid.split("_")
        for k in range(1, len(parts)):
            out.append("_".join([*parts[:k], "classifier", *parts[k:]]))
        return out

    # -- symbols ----------------------------------------------------------------------------
    def _symbols(self, text: str, taken: list[tuple[int, int]]) -> list[Span]:
        out: list[Span] = []
        cache: dict[str, str | None] = {}
        for a, b, alias in self._aliases.find(text):
            if _overlaps(a, b, taken) or _FACTOR_WORDS_RE.search(alias):
                continue  # "the Fama-French factors" name a model's inputs, not a symbol
            hit = self.vocab.cached_symbol(alias, cache)
            if hit:
                a, b = _widen_alias(text, a, b)
                out.append(Span(a, b, "symbol", hit, text[a:b]))
        spans = taken + [(s.start, s.end) for s in out]
        for m in _TICKER_TOKEN_RE.finditer(text):
            token = m.group(1)
            a, b = m.start(), m.end()
            if _overlaps(a, b, spans) or len(token) > 15:
                continue
            up = token.upper()
            if token.isupper() or token.startswith("^") or text[a] == "$":
                if up in _NOT_TICKERS or up in self.vocab.model_words:
                    continue
            elif (
                token.lower() in _ENGLISH
                or up not in self._known
                or self.vocab.resolve_model(token) is not None
            ):
                continue
            hit = self.vocab.cached_symbol(up.lstrip("$"), cache)
            if hit:
                out.append(Span(a, b, "symbol", hit, m.group()))
                spans.append((a, b))
        out.sort(key=lambda s: s.start)
        return out

    def _near_symbols(
        self, text: str, taken: list[tuple[int, int]], found: Sequence[Span]
    ) -> list[tuple[str, list[str]]]:
        """Words where a symbol belongs ("on APPL") that are not known, with suggestions."""
        out: list[tuple[str, list[str]]] = []
        for m in _TICKER_TOKEN_RE.finditer(text):
            token = m.group(1).lstrip("$")
            a, b = m.start(), m.end()
            if _overlaps(a, b, taken) or not 2 <= len(token) <= 8:
                continue
            up = token.upper()
            if up in _NOT_TICKERS or up in self.vocab.model_words or token.lower() in _ENGLISH:
                continue
            upper_written = token.isupper() and token.isalpha()
            in_place = bool(_SYMBOL_CTX_RE.search(text, max(0, a - 40), a))
            if not (upper_written or in_place):
                continue
            if self.vocab.models.lookup(token) is not None:
                continue
            close = difflib.get_close_matches(up, sorted(self._known), n=3, cutoff=0.7)
            if close and up not in self._known and (upper_written or len(token) <= 5):
                out.append((token, close))
        return out

    # -- dates ------------------------------------------------------------------------------
    def _dates(self, text: str, taken: list[tuple[int, int]]) -> DateRange:
        d = DateRange()
        starts: list[str] = []
        ends: list[str] = []
        for kind, rx in _DATE_PATTERNS:
            for m in rx.finditer(text):
                if _overlaps(m.start(), m.end(), d.spans) or _overlaps(m.start(), m.end(), taken):
                    continue
                a = m.group("a")
                b = m.groupdict().get("b")
                word = m.group().lower()
                if kind == "range" and b is not None:
                    lo, hi = _parse_when(a, end=False), _parse_when(b, end=True)
                    if lo is None or hi is None or lo >= hi:
                        continue
                    if re.search(r"\d\s*-\s*\d", m.group()) and _unit_follows(text, m.end()):
                        continue  # "2010-2020 days" is not a date range
                    starts.append(lo)
                    ends.append(hi)
                elif kind == "start":
                    lo = _parse_when(a, end=False)
                    if lo is None:
                        continue
                    if re.match(r"(?:after|post)\b", word) and re.fullmatch(_YEAR, a):
                        lo = f"{int(a) + 1}-01-01"
                    starts.append(lo)
                elif kind == "end":
                    hi = _parse_when(a, end=True)
                    if hi is None:
                        continue
                    if re.match(r"(?:before|pre)\b", word):
                        hi = _day_before(_parse_when(a, end=False) or hi)
                    ends.append(hi)
                else:
                    lo, hi = _parse_when(a, end=False), _parse_when(a, end=True)
                    if lo is None or hi is None:
                        continue
                    starts.append(lo)
                    ends.append(hi)
                d.spans.append(m.span())
        for m in _LAST_RE.finditer(text):
            if _overlaps(m.start(), m.end(), d.spans):
                continue
            n = number_value(m["n"]) if m["n"] else 1.0
            unit = m["unit"].lower().rstrip("s")
            if unit == "decade":
                n, unit = n * 10, "year"
            d.last = (n, unit + "s")
            d.spans.append(m.span())
        if len(set(starts)) > 1 or len(set(ends)) > 1:
            d.conflict = "the message gives more than one date range"
        d.start = starts[0] if starts else None
        d.end = ends[0] if ends else None
        if d.start and d.end and d.start >= d.end:
            d.conflict = f"start {d.start} is not before end {d.end}"
        return d

    # -- for the classifier -------------------------------------------------------------------
    def _delexicalise(self, text: str, t: Tagged) -> str:
        spans: list[tuple[int, int, str]] = []
        spans += [(m.start, m.end, " qmdl ") for m in t.models]
        spans += [(s.start, s.end, " qsym ") for s in t.symbols]
        spans += [(a, b, " qyr ") for a, b in t.dates.spans]
        spans.sort()
        out: list[str] = []
        last = 0
        for a, b, rep in spans:
            if a < last:
                continue
            out.append(text[last:a])
            out.append(rep)
            last = b
        out.append(text[last:])
        joined = "".join(out)
        joined = _NUMBER_TOKEN_RE.sub(" qnum ", joined)
        return " ".join(joined.split())

    @staticmethod
    def features(t: Tagged) -> str:
        """What the classifier reads: the delexicalised text and how many distinct models
        and symbols it names (two models hint at a comparison, none at a question)."""
        models = min(len(t.model_ids()), 2)
        symbols = min(len(t.symbol_ids()), 2)
        return f"{t.delexicalised} qmdlcount{models} qsymcount{symbols}"


def _norm_phrase(text: str) -> str:
    phrase = " ".join(re.split(r"[\s_-]+", text.strip().lower()))
    if phrase in _MODEL_NAMES:
        return phrase
    for cut in ("es", "s"):
        if phrase.endswith(cut) and phrase[: -len(cut)] in _MODEL_NAMES:
            return phrase[: -len(cut)]
    return phrase


def _to_bars(value: float, unit: str) -> float:
    unit = unit.strip(" -").lower().rstrip("s")
    if unit in ("month", "mo"):
        return value * BARS_PER["month"]
    if unit in ("week", "wk"):
        return value * BARS_PER["week"]
    if unit in ("year", "yr"):
        return value * BARS_PER["year"]
    return value


def _unit_follows(text: str, pos: int) -> bool:
    return bool(re.match(r"\s*(?:trading\s+)?(?:days?|bars?|weeks?|months?)\b", text[pos:], re.I))


def _parse_when(text: str, *, end: bool) -> str | None:
    t = text.strip().lower().replace(".", "")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            return dt.date.fromisoformat(t).isoformat()
        m = re.fullmatch(rf"({_MONTH})\s+(\d{{4}})", t)
        if m:
            year, month = int(m[2]), _MONTHS[m[1]]
            day = calendar.monthrange(year, month)[1] if end else 1
            return dt.date(year, month, day).isoformat()
        if re.fullmatch(r"\d{4}", t):
            return f"{t}-12-31" if end else f"{t}-01-01"
    except ValueError:
        return None
    return None


def _day_before(iso: str) -> str:
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=1)).isoformat()


_JOIN_RE = re.compile(r"[\s-]*(?:(?:regime|based|style|type)[\s-]*)?")


def _merge_adjacent(found: list[ModelMention], text: str) -> list[ModelMention]:
    """One model written in two names side by side is one mention ("HMM regime model",
    "Kalman filter local level", "Donchian 55 breakout"): the first, more specific, wins."""
    out: list[ModelMention] = []
    for m in found:
        if out and _JOIN_RE.fullmatch(text, out[-1].end, m.start):
            prev = out[-1]
            same_family = prev.family is not None and prev.family == m.family
            generic = _norm_phrase(m.text) in _GENERIC_NAMES
            if prev.id == m.id or same_family or generic:
                prev.end = m.end
                continue
        out.append(m)
    return out


def _one_per_family(found: list[ModelMention]) -> list[ModelMention]:
    """A family named twice is one model unless both mentions give windows ("a 3 state HMM
    for regimes" is one HMM; "a 20/50 and a 50/200 crossover" are two)."""
    out: list[ModelMention] = []
    for m in found:
        same = [o for o in out if m.family is not None and o.family == m.family]
        if not same:
            out.append(m)
        elif m.explicit and not any(o.explicit for o in same):
            out = [o for o in out if o not in same] + [m]
        elif m.explicit and all(o.explicit for o in same):
            out.append(m)
    out.sort(key=lambda x: x.start)
    return out


class PhraseIndex:
    """Phrases found in text by their words (case-insensitive; spaces, hyphens, slashes and
    underscores between words are alike), longest first, on word boundaries: a dictionary
    look-up per word, where one regular expression with hundreds of alternatives would be
    slow. ``plurals`` also accepts a final "s"/"es" ("random forests")."""

    def __init__(self, phrases: Mapping[str, str], *, plurals: bool = False) -> None:
        self._map: dict[tuple[str, ...], str] = {}
        for phrase, value in phrases.items():
            key = tuple(t.lower() for t in _PHRASE_TOKEN_RE.findall(phrase))
            if key:
                self._map.setdefault(key, value)
        self._heads = {k[0] for k in self._map}
        self._longest = max((len(k) for k in self._map), default=0)
        self._plurals = plurals

    def find(self, text: str) -> list[tuple[int, int, str]]:
        toks = [(m.start(), m.end(), m.group().lower()) for m in _PHRASE_TOKEN_RE.finditer(text)]
        out: list[tuple[int, int, str]] = []
        i = 0
        while i < len(toks):
            if not self._heads_match(toks[i][2]) or (
                i and _glued(text, toks[i - 1][1], toks[i][0])
            ):
                i += 1
                continue
            hit = None
            for n in range(min(self._longest, len(toks) - i), 0, -1):
                span = toks[i : i + n]
                if not all(
                    _PHRASE_GAP_RE.fullmatch(text, span[j][1], span[j + 1][0]) for j in range(n - 1)
                ):
                    continue
                end = span[-1][1]
                if end < len(text) and (text[end].isalnum() or text[end] == "&"):
                    continue
                key = tuple(t[2] for t in span)
                value = self._map.get(key)
                if value is None and self._plurals:
                    last = key[-1]
                    for cut in ("es", "s"):
                        if last.endswith(cut) and len(last) > len(cut) + 1:
                            value = self._map.get((*key[:-1], last[: -len(cut)]))
                            if value is not None:
                                break
                if value is not None:
                    hit = (span[0][0], end, value, n)
                    break
            if hit is None:
                i += 1
                continue
            out.append(hit[:3])
            i += hit[3]
        return out

    def _heads_match(self, token: str) -> bool:
        if token in self._heads:
            return True
        return self._plurals and any(
            token.endswith(c) and token[: -len(c)] in self._heads for c in ("s", "es")
        )


def _glued(text: str, prev_end: int, start: int) -> bool:
    """The word at ``start`` continues the previous one ("lasso_ko", "x-ridge", "rf2")."""
    return text[prev_end:start] == "_"


def _widen_alias(text: str, a: int, b: int) -> tuple[int, int]:
    """An alias with its article and trailing noun: "the dollar-euro rate", "Apple's shares"."""
    before = _ALIAS_BEFORE_RE.search(text, max(0, a - 4), a)
    if before:
        a = before.start()
    after = _ALIAS_AFTER_RE.match(text, b)
    if after:
        b = after.end()
    return a, b
