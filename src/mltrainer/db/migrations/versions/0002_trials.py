"""trial store

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("model_id", sa.String(80), nullable=False, index=True),
        sa.Column("symbol", sa.String(40), nullable=False, index=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("goal_id", sa.String(40), nullable=True, index=True),
        sa.Column("study", sa.String(80), nullable=True, index=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False, index=True),
        sa.Column("data_hash", sa.String(64), nullable=True),
        sa.Column("sharpe", sa.Float, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("trials")
