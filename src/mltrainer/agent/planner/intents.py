"""The intent classifier: which capability a message asks for, with a confidence.

A small, real, deterministic model: TF-IDF over character n-grams (``char_wb``, 2-4) and
word n-grams (1-2) feeding a linear support vector machine (``LinearSVC``,
``random_state=0``); its decision scores become probabilities by a softmax whose
temperature was chosen by cross-validation on the corpus (``TEMPERATURE``). It is
trained at first use in the process on the corpus kept in this package
(``corpus/<intent>.txt``, one example utterance a line), after each sentence has been
delexicalised by :class:`~.entities.Tagger` (symbols, models, years and numbers replaced
by their kind), so it learns how requests are phrased, not which tickers its examples
happen to name. Training takes a fraction of a second (``benchmarks/bench_planner.py``
measures it); the same corpus always gives the same model.

scikit-learn is imported inside :meth:`IntentClassifier.fit`: ``mltrainer --help`` must not
load it (tests/test_startup.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["INTENTS", "IntentClassifier", "IntentGuess", "load_corpus", "corpus_intents"]

INTENTS: dict[str, str] = {
    "train": "run a walk-forward trial of one model on one symbol",
    "compare": "compare several models on one symbol",
    "tune": "tune a model's hyper-parameters with Optuna",
    "list_models": "list the models",
    "list_symbols": "list the data available offline",
    "list_trials": "list the trials run so far",
    "show_trial": "show one trial's status and results",
    "data_summary": "summarise one symbol's data",
    "price_option": "price an option",
    "implied_vol": "find an option's implied volatility",
    "var": "compute value at risk and expected shortfall",
    "capm": "estimate a stock's CAPM beta and alpha",
    "fama_french": "regress a stock on the Fama-French factors",
    "cointegration": "test two prices for cointegration",
    "portfolio": "optimise a portfolio",
    "kelly": "size a position with the Kelly criterion",
    "stress_test": "replay a crisis on a portfolio",
    "drawdown": "analyse a symbol's drawdowns",
    "sharpe_stats": "compute a symbol's Sharpe ratio with its standard error",
    "set_goal": "set the research goal",
    "get_goal": "show the current goal",
    "evaluate_goal": "check the trials against the goal",
    "search_memory": "recall what earlier work found",
    "start_research": "start a goal-driven search in the background",
    "run_status": "report on a background run",
    "cancel_run": "cancel a background run",
    "help": "say what I can do",
    "refuse": "refuse to make up data",
    "other": "something I cannot do",
}
"""Intent -> what it does, in the words a clarifying question uses."""


def load_corpus() -> list[tuple[str, str]]:
    """(utterance, intent) pairs of the training corpus shipped in this package."""
    root = resources.files(__package__).joinpath("corpus")
    out: list[tuple[str, str]] = []
    for intent in INTENTS:
        path = root.joinpath(f"{intent}.txt")
        if not path.is_file():
            raise FileNotFoundError(f"planner corpus file corpus/{intent}.txt is missing")
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append((line, intent))
    return out


def corpus_intents(corpus: Iterable[tuple[str, str]]) -> list[str]:
    return sorted({intent for _t, intent in corpus})


@dataclass(frozen=True)
class IntentGuess:
    """The classifier's ranking for one message: ``ranked[0]`` is its best guess."""

    ranked: tuple[tuple[str, float], ...]

    @property
    def intent(self) -> str:
        return self.ranked[0][0]

    @property
    def confidence(self) -> float:
        return self.ranked[0][1]

    @property
    def margin(self) -> float:
        """How far the best guess is ahead of the second (0..1)."""
        if len(self.ranked) < 2:
            return self.ranked[0][1]
        return self.ranked[0][1] - self.ranked[1][1]

    def probability(self, intent: str) -> float:
        return next((p for i, p in self.ranked if i == intent), 0.0)


class IntentClassifier:
    """TF-IDF (char_wb 2-5 + word 1-2) and logistic regression; fitted once, on first use.

    ``prepare`` turns a raw utterance into what the model reads (the planner passes its
    tagger's delexicaliser) and is applied to the training sentences and to every
    message alike.
    """

    def __init__(
        self,
        corpus: Sequence[tuple[str, str]] | None = None,
        prepare: Callable[[str], str] = str.lower,
        *,
        c: float = 1.0,
        temperature: float | None = None,
    ) -> None:
        self._corpus = list(corpus) if corpus is not None else None
        self._prepare = prepare
        self._c = c
        self.temperature = TEMPERATURE if temperature is None else temperature
        self._model: Any = None
        self._classes: list[str] = []
        self._lock = threading.Lock()
        self.fit_seconds: float | None = None
        """Wall time of the last fit (delexicalising the corpus included)."""

    @property
    def corpus(self) -> list[tuple[str, str]]:
        if self._corpus is None:
            self._corpus = load_corpus()
        return self._corpus

    def fit(self) -> IntentClassifier:
        """Train on the corpus (idempotent; thread-safe)."""
        with self._lock:
            if self._model is not None:
                return self
            import time

            started = time.perf_counter()
            texts = [self._prepare(t) for t, _i in self.corpus]
            labels = [i for _t, i in self.corpus]
            self._model = self._build().fit(texts, labels)
            self._classes = list(self._model.classes_)
            self.fit_seconds = time.perf_counter() - started
        return self

    def _build(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.svm import LinearSVC

        features = FeatureUnion(
            [
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
                ),
                (
                    "words",
                    TfidfVectorizer(
                        analyzer="word",
                        ngram_range=(1, 2),
                        sublinear_tf=True,
                        token_pattern=r"(?u)\b\w+\b|[?%$]",
                    ),
                ),
            ]
        )
        model = LinearSVC(C=self._c, random_state=0)
        return Pipeline([("features", features), ("model", model)])

    def guess(self, text: str, *, prepared: bool = False) -> IntentGuess:
        """The intents ranked by probability for ``text``."""
        self.fit()
        scores = self._model.decision_function([text if prepared else self._prepare(text)])[0]
        probs = softmax(scores, self.temperature)
        ranked = sorted(zip(self._classes, probs, strict=True), key=_rank)
        return IntentGuess(tuple(ranked))


def _rank(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


TEMPERATURE = 6.0
"""Softmax temperature of the SVM's decision scores (benchmarks/bench_planner.py --calibrate
re-derives it by cross-validated log-loss on the corpus)."""


def softmax(scores: Sequence[float], temperature: float) -> list[float]:
    """Probabilities from decision scores: ``exp(t * s) / sum(exp(t * s))``."""
    import math

    top = max(scores)
    exps = [math.exp(temperature * (float(x) - top)) for x in scores]
    total = sum(exps)
    return [e / total for e in exps]
