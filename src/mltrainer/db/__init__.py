"""Database access: engine construction and Alembic migrations.

SQLite (WAL) under ``MLTRAINER_HOME`` is the embedded default; any SQLAlchemy URL works.
The schema is owned by Alembic: :func:`upgrade` brings a database to the newest revision
and runs on every start, so users never run migrations by hand (``mltrainer db upgrade``
does the same explicitly).

Concurrency: :func:`named_lock` serialises a critical section across every process that
uses the same database (a ``flock`` file beside a SQLite file, ``pg_advisory_lock`` on
PostgreSQL), so N processes can start on a new home at once and only the first migrates.
:func:`lock_for_write` makes one transaction exclusive before it reads (``BEGIN
IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL), for read-then-write
updates such as replacing the active goal.

Start-up cost: a database already at :data:`SCHEMA_HEAD` is recognised with one query and
Alembic is not imported at all (it costs about 0.3 s of every command's start-up). A test
checks that :data:`SCHEMA_HEAD` is Alembic's own head, so a new migration cannot be
forgotten here.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ..fsio import file_lock
from .tables import Base

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "Base",
    "make_engine",
    "upgrade",
    "current_revision",
    "make_sessionmaker",
    "named_lock",
    "lock_for_write",
    "SCHEMA_HEAD",
]

SCHEMA_HEAD = "0007"
"""The newest migration's revision (the file ``migrations/versions/<SCHEMA_HEAD>_*.py``)."""

_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCAL_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _stored_revision(engine: Engine) -> str | None:
    """The revision in ``alembic_version``, read with plain SQL; None if there is none."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table yet (a new database): Alembic creates it
        return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration to ``engine``'s database (one process at a time)."""
    if revision == "head" and _stored_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    with named_lock(engine, "migrate"):
        command.upgrade(_alembic_config(engine), revision)


def _sqlite_file(engine: Engine) -> Path | None:
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).resolve()


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(f"mltrainer:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` for this database across processes for the block.

    SQLite file: ``flock`` on ``.<name>.lock`` beside the database (so the migration lock
    of the default database is ``<home>/.migrate.lock``). PostgreSQL: a session advisory
    lock on a connection of its own. Other databases and in-memory SQLite: this process
    only. Every one of them is released if the process dies.
    """
    path = _sqlite_file(engine)
    if path is not None:
        with file_lock(path.parent / f".{name}.lock"):
            yield
    elif engine.dialect.name == "postgresql":
        key = _advisory_key(name)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    else:
        with _LOCAL_LOCKS[name]:
            yield


def lock_for_write(session: Session, name: str) -> None:
    """Make ``session``'s new transaction exclusive for ``name``; call it before any read.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock now, so no other writer can commit
    between this transaction's read and its write. PostgreSQL: an advisory lock held to
    the end of the transaction (it also covers the case with no row to ``FOR UPDATE``).
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(name)})


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
