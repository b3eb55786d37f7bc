"""``/audit``: verify the hash chain and the seals; the newest records."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..deps import AppDep
from ..schemas import AuditRecordPublic, AuditRecordsPublic, AuditVerifyPublic

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify", response_model=AuditVerifyPublic)
def verify(app: AppDep) -> AuditVerifyPublic:
    """As ``mltrainer audit verify``: ``ok`` false names the first broken record."""
    from ...seals import verify_seals

    rep = app.audit.verify()
    seals = verify_seals(app.audit) if rep.ok else None
    return AuditVerifyPublic(
        ok=rep.ok and seals is not None and seals.ok,
        records=rep.records,
        checkpoints=rep.checkpoints,
        seals=seals.seals if seals else 0,
        unsealed=seals.unsealed if seals else [],
        first_bad_seq=rep.first_bad_seq,
        first_bad_subject=seals.subject if seals else None,
        problem=rep.problem if not rep.ok else (seals.problem if seals else None),
    )


@router.get("/tail", response_model=AuditRecordsPublic)
def tail(
    app: AppDep, n: int = Query(20, ge=1, le=10_000), kind: str | None = None
) -> AuditRecordsPublic:
    recs = app.audit.tail(n, kind=kind)
    data = [AuditRecordPublic(**r.to_dict()) for r in recs]
    return AuditRecordsPublic(data=data, count=len(data))
