"""API bearer tokens

Revision ID: 0006
Revises: 0005

``api_tokens`` holds one row per named token of the REST API (see
:mod:`mltrainer.api.tokens`): its scope, a random salt and the salted SHA-256 of the
token. The token itself is shown once, when it is created, and never stored.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("revoked_at", _TZ, nullable=True),
        sa.Column("last_used_at", _TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
