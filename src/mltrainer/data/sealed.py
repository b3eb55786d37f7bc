"""The holdout guard: no fetch reads the sealed end of a series while its search runs.

A search run seals the final part of each series it trades (a ``holdouts`` row: run,
symbol, source, ``sealed_from`` = ISO timestamp of the first sealed bar, always the first
bar of its day). While that run is active (any status but ``finished`` or ``cancelled``)
:meth:`HoldoutGuard.check` refuses every fetch of that symbol and source whose range
reaches ``sealed_from`` (an open end reaches it; a date end covers its whole day), through
the compliance gateway so the refusal is audited like any other. The one exception is a
caller holding the run's :class:`Unseal` capability, which only
:meth:`HoldoutGuard.unseal` hands out (to the final holdout evaluation): the guard
recognises the very object it issued, so a hand-built ``Unseal`` is refused too.

The policy lives here, in the data layer, because every read goes through the data
service; the search code (``mltrainer.research.holdout``) creates the seals and evaluates.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..db.tables import HoldoutRow, RunRow

if TYPE_CHECKING:
    from ..compliance import ComplianceGateway

__all__ = ["HoldoutGuard", "Unseal", "Seal", "reaches"]

ENDED_RUN = ("finished", "cancelled")


@dataclass(frozen=True)
class Unseal:
    """The capability to read one run's sealed ranges (issued by :meth:`HoldoutGuard.unseal`)."""

    run_id: str
    nonce: str = field(repr=False)


@dataclass(frozen=True)
class Seal:
    run_id: str
    symbol: str
    source: str
    sealed_from: str


def _ts(value: Any) -> tuple[datetime, bool]:
    """``value`` as a naive datetime and whether it is a whole day (no time of day)."""
    if isinstance(value, datetime):
        dt = value
        whole = False
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day), True
    else:
        text = str(value).strip()
        dt = datetime.fromisoformat(text)
        whole = len(text) <= 10
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt, whole


def reaches(end: Any, sealed_from: str) -> bool:
    """Whether a request ending at ``end`` (None = the end of the series) reads a bar at or
    after ``sealed_from``. A date end includes every bar of that day."""
    if end is None:
        return True
    sealed, _ = _ts(sealed_from)
    dt, whole = _ts(end)
    return dt.date() >= sealed.date() if whole else dt >= sealed


class HoldoutGuard:
    def __init__(self, engine: Engine, gateway: ComplianceGateway):
        self._engine = engine
        self._gateway = gateway
        self._issued: dict[str, Unseal] = {}

    def active_seals(self, symbol: str, source: str) -> list[Seal]:
        """Seals on ``symbol``/``source`` of runs that have not ended, earliest first."""
        q = (
            select(HoldoutRow.run_id, HoldoutRow.sealed_from)
            .join(RunRow, RunRow.id == HoldoutRow.run_id)
            .where(
                HoldoutRow.symbol == symbol,
                HoldoutRow.source == source,
                RunRow.status.not_in(ENDED_RUN),
            )
            .order_by(HoldoutRow.sealed_from)
        )
        with Session(self._engine) as s:
            return [Seal(r, symbol, source, f) for r, f in s.execute(q)]

    def unseal(self, run_id: str) -> Unseal:
        """The capability for ``run_id`` (the final holdout evaluation's only)."""
        cap = Unseal(run_id, secrets.token_hex(16))
        self._issued[run_id] = cap
        return cap

    def revoke(self, cap: Unseal) -> None:
        if self._issued.get(cap.run_id) is cap:
            del self._issued[cap.run_id]

    def check(
        self,
        symbol: str,
        source: str,
        end: Any,
        *,
        unseal: Unseal | None = None,
        actor: str = "system",
    ) -> None:
        """Raise :class:`ComplianceError` (audited) when the request reads a sealed range."""
        for seal in self.active_seals(symbol, source):
            if not reaches(end, seal.sealed_from):
                continue
            if unseal is not None and self._issued.get(seal.run_id) is unseal:
                continue
            reason = (
                f"compliance: {symbol} ({source}) from {seal.sealed_from[:10]} is the sealed "
                f"holdout of search run {seal.run_id}; it stays unread until the run's final "
                f"evaluation (request end: {end if end is not None else 'open'}; end the "
                f"request before {seal.sealed_from[:10]})"
            )
            subject = {
                "symbol": symbol,
                "source": source,
                "end": None if end is None else str(end),
                "run_id": seal.run_id,
                "sealed_from": seal.sealed_from,
            }
            # The gateway's own decision path: the refusal is audited as a compliance check.
            self._gateway.refuse("holdout", reason, subject, actor)
