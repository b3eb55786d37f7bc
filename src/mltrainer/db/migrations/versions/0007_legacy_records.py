"""legacy imports and legacy records

Revision ID: 0007
Revises: 0006

``legacy_imports`` has one row per ``mltrainer migrate`` run that stored anything: where
it read, who ran it, and its report. ``legacy_records`` has one row per record read from
the earlier versions' logs (see :mod:`mltrainer.migrate`): its fingerprint (unique, so a
second import of the same logs stores nothing twice), the file and line it came from,
its original timestamp, the record itself (when it lives nowhere else), today's analysis
of it (suggestions re-parsed by the bridge, validation errors, legacy claims) and where
it went (``memory:<id>``, ``goal:<id>``, ``audit:<seq>``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legacy_imports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("started_at", _TZ, nullable=False, index=True),
        sa.Column("finished_at", _TZ, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_table(
        "legacy_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column(
            "import_id",
            sa.String(40),
            sa.ForeignKey("legacy_imports.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("source_file", sa.String(512), nullable=False),
        sa.Column("line", sa.Integer, nullable=True),
        sa.Column("ts", _TZ, nullable=True, index=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("analysis", sa.JSON, nullable=True),
        sa.Column("target", sa.String(80), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("legacy_records")
    op.drop_table("legacy_imports")
