"""The application container: builds every service from one :class:`Settings`.

No module-level singletons: the CLI, the API and the tests each build an ``App`` and pass
its parts down. Building an ``App`` creates the home folder, generates the audit key on
first start and upgrades the database to the newest schema. While an App is open its
:class:`~mltrainer.scrub.Scrubber` filters the root logger's handlers, so no log line
carries a configured secret.
"""

from __future__ import annotations

import logging
import weakref
from functools import cached_property

from sqlalchemy import Engine

from . import db
from .audit import AuditLog
from .compliance import ComplianceGateway, Policy
from .data import DataService
from .scrub import Scrubber
from .settings import Settings

__all__ = ["App"]

log = logging.getLogger(__name__)


class App:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.settings.ensure_home()
        self.engine: Engine = db.make_engine(self.settings.db_url)
        db.upgrade(self.engine)
        self.audit = AuditLog.open(
            self.engine, self.settings, Scrubber.from_settings(self.settings)
        )
        self.scrub: Scrubber = self.audit.scrubber
        """Every configured secret (vendor and LLM keys, the audit key), scrubbed by value."""
        self.log_filter = self.scrub.log_filter()
        self.log_filter.attach()
        weakref.finalize(self, self.log_filter.detach)  # an App nobody closed
        self.policy = Policy.load(self.settings.policy_file)
        self.gateway = ComplianceGateway(self.policy, self.audit)
        self.data = DataService(self.settings, self.gateway, self.audit, scrubber=self.scrub)

    @cached_property
    def sessions(self):
        return db.make_sessionmaker(self.engine)

    def close(self) -> None:
        self.audit.close()  # the final checkpoint, when checkpoints are written every N > 1
        self.log_filter.detach()
        self.engine.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
