"""The offline planner's understanding of a user's message.

A message is tagged (symbols, models, dates: :mod:`.entities`, built on the bridge's shared
readers), its intent classified by a small deterministic model trained at first use on the
corpus in ``corpus/`` (:mod:`.intents`), its slots read (:mod:`.slots`, :mod:`.finance`),
and :class:`Planner` turns that into tool calls, or into one short question when it is not
sure (:mod:`.core`). :class:`~mltrainer.agent.offline.OfflinePlanner` speaks the provider
protocol around it.
"""

from .core import ACT, CONFIRM, Call, Context, Planner, Understanding, bundled_planner
from .intents import INTENTS, IntentClassifier, IntentGuess, load_corpus

__all__ = [
    "ACT",
    "CONFIRM",
    "Call",
    "Context",
    "Planner",
    "Understanding",
    "bundled_planner",
    "INTENTS",
    "IntentClassifier",
    "IntentGuess",
    "load_corpus",
]
