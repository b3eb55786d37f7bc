"""``mltrainer migrate``: every legacy mlTrainer log brought into the unified system.

The two earlier versions kept chat history, goals, agent actions, trial feedback and
compliance logs under a ``logs/`` folder (formats: ``legacy-formats.md``). :mod:`.readers`
reads each file kind; :class:`Migrator` imports a whole folder in one database
transaction (nothing at all when a line is bad, unless bad lines are skipped), stores
each record once (:mod:`.fingerprints`: a second run imports nothing new) and returns a
:class:`MigrationReport`; :mod:`.upload` unpacks an uploaded zip of ``logs/`` safely for
the REST API. Nothing legacy is ever run: old replies and trial configs are re-read by
today's bridge and kept as suggestions; old metrics are kept as legacy outcomes.
"""

from __future__ import annotations

from .importer import MigrationError, Migrator, Progress, build_bridge, open_migrator
from .report import FileReport, GoalOutcome, MigrationReport, SkippedLine, Totals

__all__ = [
    "Migrator",
    "MigrationError",
    "MigrationReport",
    "FileReport",
    "GoalOutcome",
    "SkippedLine",
    "Totals",
    "Progress",
    "build_bridge",
    "open_migrator",
]
