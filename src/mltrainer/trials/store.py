"""Trial storage: spec, status, result and provenance of every trial, in the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ..db.tables import TrialRow
from ..errors import NotFound
from .spec import TrialResult, TrialSpec

__all__ = ["TrialStore", "new_trial_id"]

_List = list  # ``TrialStore.list`` shadows the builtin inside the class body


def new_trial_id() -> str:
    """``trial_YYYYmmdd_HHMMSS_xxxxxx``: sortable by time, unique."""
    return f"trial_{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


class TrialStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def create(
        self,
        spec: TrialSpec,
        *,
        goal_id: str | None = None,
        study: str | None = None,
        status: str = "queued",
    ) -> str:
        tid = new_trial_id()
        with Session(self._engine) as s, s.begin():
            s.add(
                TrialRow(
                    id=tid,
                    created_at=datetime.now(UTC),
                    status=status,
                    model_id=spec.model_id,
                    symbol=spec.symbol,
                    source=spec.source,
                    goal_id=goal_id,
                    study=study,
                    spec=spec.canonical(),
                    spec_hash=spec.spec_hash(),
                )
            )
        return tid

    def set_status(self, trial_id: str, status: str) -> None:
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = status

    def finish(self, trial_id: str, result: TrialResult) -> None:
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = "done"
            row.finished_at = datetime.now(UTC)
            row.result = result.model_dump(mode="json")
            row.data_hash = result.data_sha256
            row.sharpe = result.metrics.get("sharpe")

    def fail(self, trial_id: str, error: str) -> None:
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = "failed"
            row.finished_at = datetime.now(UTC)
            row.error = error

    def get(self, trial_id: str) -> dict[str, Any]:
        with Session(self._engine) as s:
            row = s.get(TrialRow, trial_id)
            if row is None:
                close = s.scalars(
                    select(TrialRow.id).order_by(TrialRow.created_at.desc()).limit(5)
                ).all()
                hint = f"; recent trials: {', '.join(close)}" if close else ""
                raise NotFound(f"no trial '{trial_id}'{hint}")
            return self._to_dict(row, full=True)

    def result(self, trial_id: str) -> TrialResult:
        d = self.get(trial_id)
        if d["result"] is None:
            raise NotFound(f"trial '{trial_id}' has no result (status {d['status']})")
        return TrialResult.model_validate(d["result"])

    def list(
        self, limit: int = 50, goal_id: str | None = None, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        with Session(self._engine) as s:
            q = select(TrialRow).order_by(TrialRow.created_at.desc()).limit(limit)
            if goal_id:
                q = q.where(TrialRow.goal_id == goal_id)
            if model_id:
                q = q.where(TrialRow.model_id == model_id)
            return [self._to_dict(r, full=False) for r in s.scalars(q)]

    def study_sharpes(self, goal_id: str | None, study: str | None) -> _List[float]:
        """Per-period Sharpes of finished trials toward the same goal or study (for the DSR)."""
        if goal_id is None and study is None:
            return []
        with Session(self._engine) as s:
            q = select(TrialRow.result).where(TrialRow.status == "done")
            q = (
                q.where(TrialRow.goal_id == goal_id)
                if goal_id
                else q.where(TrialRow.study == study)
            )
            out = []
            for res in s.scalars(q):
                v = (res or {}).get("metrics", {}).get("sharpe_per_period")
                if v is not None:
                    out.append(float(v))
            return out

    def count(self) -> int:
        with Session(self._engine) as s:
            return int(s.scalar(select(func.count()).select_from(TrialRow)) or 0)

    @staticmethod
    def _to_dict(r: TrialRow, full: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": r.id,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "status": r.status,
            "model_id": r.model_id,
            "symbol": r.symbol,
            "source": r.source,
            "goal_id": r.goal_id,
            "study": r.study,
            "spec_hash": r.spec_hash,
            "data_hash": r.data_hash,
            "sharpe": r.sharpe,
            "error": r.error,
        }
        if full:
            d["spec"] = r.spec
            d["result"] = r.result
        elif r.result:
            d["metrics"] = r.result.get("metrics", {})
        return d
