"""goals and unified memory (with SQLite FTS5 full-text index)

Revision ID: 0003
Revises: 0002

On SQLite (when the library has FTS5) this also creates ``memory_fts``, an FTS5
*external-content* table over ``memory_messages(content, topics)``: the text is stored once
(in ``memory_messages``) and the index is kept in sync by three triggers (insert, delete,
update) using FTS5's ``'delete'`` command. ``topics`` is indexed as its JSON text, so
``"model:lightgbm"`` is searchable as the words ``model`` and ``lightgbm``.

Other dialects get no FTS table; :class:`mltrainer.memory.UnifiedMemory` then searches
with ``LIKE`` (ranking documented there).

Caution for later migrations: a batch ("move and copy") alteration of ``memory_messages``
on SQLite drops its triggers; such a migration must recreate them (see ``_TRIGGERS``) and
run ``INSERT INTO memory_fts(memory_fts) VALUES('rebuild')``.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

_FTS = (
    "CREATE VIRTUAL TABLE memory_fts USING fts5("
    "content, topics, content='memory_messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')"
)
_TRIGGERS = (
    """CREATE TRIGGER memory_fts_ai AFTER INSERT ON memory_messages BEGIN
  INSERT INTO memory_fts(rowid, content, topics) VALUES (new.id, new.content, new.topics);
END""",
    """CREATE TRIGGER memory_fts_ad AFTER DELETE ON memory_messages BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, content, topics)
  VALUES ('delete', old.id, old.content, old.topics);
END""",
    """CREATE TRIGGER memory_fts_au AFTER UPDATE ON memory_messages BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, content, topics)
  VALUES ('delete', old.id, old.content, old.topics);
  INSERT INTO memory_fts(rowid, content, topics) VALUES (new.id, new.content, new.topics);
END""",
)


def _sqlite_has_fts5(bind) -> bool:
    try:
        return bool(
            bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar()
        )
    except sa.exc.DBAPIError:  # pragma: no cover - very old SQLite
        return False


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "memory_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False, index=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("importance", sa.Float, nullable=False),
        sa.Column("compliance_flags", sa.JSON, nullable=False),
        sa.Column("goal_id", sa.String(40), nullable=True, index=True),
        sa.Column("conversation_id", sa.String(80), nullable=True, index=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not _sqlite_has_fts5(bind):
        log.warning("SQLite without FTS5: memory search will use LIKE")
        return
    op.execute(_FTS)
    for trig in _TRIGGERS:
        op.execute(trig)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("memory_fts_au", "memory_fts_ad", "memory_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS memory_fts")
    op.drop_table("memory_messages")
    op.drop_table("goals")
