"""Named bearer tokens for the REST API, stored as salted SHA-256 only.

A token is ``mlt_`` plus 32 random bytes (URL-safe base64), shown once by
:meth:`TokenStore.create` and never stored, logged or audited: the row holds a random
salt and ``sha256(salt + token)``; audit records name the token (``actor``), never its
value. Scopes: ``read`` (GET routes) and ``write`` (everything).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.tables import ApiTokenRow
from ..errors import InputError, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..audit import AuditLog

__all__ = ["Scope", "SCOPES", "TokenInfo", "TokenStore", "hash_token"]

Scope = Literal["read", "write"]
SCOPES: tuple[str, ...] = ("read", "write")
_PREFIX = "mlt_"
_TOUCH_EVERY_S = 60.0
"""``last_used_at`` is written at most this often (not one write per request)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def hash_token(salt: str, token: str) -> str:
    """``sha256(salt + token)`` as hex: what the database holds instead of the token."""
    return hashlib.sha256((salt + token).encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token's public facts (never its value or hash)."""

    name: str
    scope: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None

    @classmethod
    def of(cls, row: ApiTokenRow) -> TokenInfo:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return cls(
            row.name,
            row.scope,
            iso(row.created_at) or "",
            iso(row.revoked_at),
            iso(row.last_used_at),
        )

    def can_write(self) -> bool:
        return self.scope == "write"


class TokenStore:
    def __init__(self, engine: Engine, audit: AuditLog):
        self._engine = engine
        self._audit = audit

    def create(self, name: str, scope: str = "read", actor: str = "cli") -> str:
        """Store a new token named ``name``; returns the token (the only time it exists)."""
        if not _NAME.fullmatch(name):
            raise InputError(
                f"token name {name!r} is invalid; use 1-64 letters, digits, '_', '.' or '-'"
            )
        if scope not in SCOPES:
            raise InputError(f"token scope {scope!r} is not one of: {', '.join(SCOPES)}")
        token = _PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        row = ApiTokenRow(
            name=name,
            scope=scope,
            salt=salt,
            hash=hash_token(salt, token),
            created_at=datetime.now(UTC),
        )
        try:
            with Session(self._engine) as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise InputError(
                f"a token named {name!r} exists; revoke it or choose another name"
            ) from None
        self._audit.append("token.create", {"name": name, "scope": scope}, actor=actor)
        return token

    def list(self) -> list[TokenInfo]:
        with Session(self._engine) as s:
            return [
                TokenInfo.of(r) for r in s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))
            ]

    def revoke(self, name: str, actor: str = "cli") -> TokenInfo:
        with Session(self._engine) as s, s.begin():
            row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
            if row is None:
                raise NotFound(f"no token named {name!r}; see: mltrainer token list")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            info = TokenInfo.of(row)
        self._audit.append("token.revoke", {"name": name}, actor=actor)
        return info

    def authenticate(self, token: str) -> TokenInfo | None:
        """The live token whose hash matches ``token`` (compared in constant time), or None.

        There are few tokens, so every live row's salted hash is checked; the match's
        ``last_used_at`` is updated.
        """
        if not token.startswith(_PREFIX):
            return None
        with Session(self._engine) as s:
            rows = s.scalars(select(ApiTokenRow).where(ApiTokenRow.revoked_at.is_(None))).all()
            row = next(
                (r for r in rows if hmac.compare_digest(hash_token(r.salt, token), r.hash)), None
            )
            if row is None:
                return None
            now = datetime.now(UTC)
            last = row.last_used_at
            if last is not None and last.tzinfo is None:  # SQLite hands back naive UTC
                last = last.replace(tzinfo=UTC)
            if last is None or (now - last).total_seconds() > _TOUCH_EVERY_S:
                s.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now)
                )
                s.commit()
                row.last_used_at = now
            return TokenInfo.of(row)
