"""trial owner and heartbeat

Revision ID: 0004
Revises: 0003

``owner_pid``, ``owner_host`` and ``heartbeat_at`` on ``trials``: the process that runs a
trial beats every few seconds, so a trial whose process was killed is recognisably
``interrupted`` instead of ``running`` forever. Existing rows keep NULLs (judged by their
``created_at``). Plain ``ADD COLUMN`` (no table copy), also on SQLite.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trials", sa.Column("owner_pid", sa.Integer, nullable=True))
    op.add_column("trials", sa.Column("owner_host", sa.String(255), nullable=True))
    op.add_column("trials", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner_host")
        batch.drop_column("owner_pid")
