"""runs, run steps, sealed holdouts and the worker registry

Revision ID: 0005
Revises: 0004

``runs`` and ``run_steps`` are the record of all background work (see
:mod:`mltrainer.runs`): a worker claims a queued step atomically, beats while it runs and
finishes it exactly once. ``holdouts`` holds one sealed range per (search run, symbol).
``workers`` lists worker processes and their latest heartbeat, so ``chat``/``ask`` can tell
whether one is alive before starting their own.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("finish_reason", sa.String(16), nullable=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("goal_id", sa.String(40), nullable=True, index=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", _TZ, nullable=False, index=True),
        sa.Column("started_at", _TZ, nullable=True),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.Column("steps_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("steps_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("summary", sa.JSON, nullable=True),
    )
    op.create_table(
        "run_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(120), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(80), nullable=True),
        sa.Column("worker_host", sa.String(255), nullable=True),
        sa.Column("worker_pid", sa.Integer, nullable=True),
        sa.Column("claimed_at", _TZ, nullable=True),
        sa.Column("heartbeat_at", _TZ, nullable=True),
        sa.Column("started_at", _TZ, nullable=True),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.Column("progress", sa.JSON, nullable=True),
        sa.Column("outcome", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("trial_id", sa.String(40), nullable=True),
        sa.UniqueConstraint("run_id", "seq", name="uq_run_steps_run_seq"),
    )
    op.create_index("ix_run_steps_claim", "run_steps", ["status", "run_id", "seq"])
    op.create_table(
        "holdouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False, index=True),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("interval", sa.String(16), nullable=True),
        sa.Column("sealed_from", sa.String(40), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.UniqueConstraint("run_id", "symbol", name="uq_holdouts_run_symbol"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("heartbeat_at", _TZ, nullable=False, index=True),
        sa.Column("stopped_at", _TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_table("holdouts")
    op.drop_index("ix_run_steps_claim", table_name="run_steps")
    op.drop_table("run_steps")
    op.drop_table("runs")
