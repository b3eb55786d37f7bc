"""``/migrate``: upload a zip of the earlier versions' ``logs/`` and import it (dry run by
default). The zip is unpacked safely (:mod:`mltrainer.migrate.upload`) into a temporary
folder that is removed afterwards; a bad zip or a bad legacy line is 422, nothing imported.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Query, UploadFile

from ...migrate import MigrationReport, open_migrator
from ...migrate.upload import migrate_zip
from ..deps import ServicesDep, TokenDep

router = APIRouter(prefix="/migrate", tags=["migrate"])


@router.post("", response_model=MigrationReport)
def migrate(
    services: ServicesDep,
    token: TokenDep,
    file: UploadFile = File(..., description="a zip of logs/ (or of the folder holding it)"),
    dry_run: bool = Query(True, description="report only, write nothing (the default)"),
    skip_bad_lines: bool = Query(False, description="import the rest and list bad lines"),
) -> MigrationReport:
    """Import legacy chat, goals, agent actions, trial feedback and compliance logs in one
    transaction; a second upload of the same logs imports nothing new."""
    migrator = open_migrator(
        services.app, executor=services.executor, memory=services.memory, goals=services.goals
    )
    return migrate_zip(
        migrator,
        file.file,
        filename=file.filename,
        dry_run=dry_run,
        skip_bad_lines=skip_bad_lines,
        actor=token.name,
    )
