"""Typed settings, read once from the environment (prefix ``MLTRAINER_``).

Nothing else in mlTrainer reads ``os.environ``: build a :class:`Settings` and pass it down.
Vendor keys keep their vendors' usual names (``POLYGON_API_KEY``, ``FRED_API_KEY``,
``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``) and are held as ``SecretStr`` so they never
appear in a repr, a log line or the audit log.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

__all__ = ["Settings"]


class Settings(BaseSettings):
    """All configuration of one mlTrainer installation.

    Example: ``MLTRAINER_HOME=/tmp/mlt mltrainer data list`` keeps the database, cache and
    audit key under ``/tmp/mlt``.
    """

    model_config = SettingsConfigDict(env_prefix="MLTRAINER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".mltrainer")
    database_url: str | None = None
    """Any SQLAlchemy URL; default: ``sqlite:///<home>/mltrainer.db`` in WAL mode."""
    audit_key_file: Path | None = None
    """File holding the HMAC key of the audit chain; default ``<home>/audit.key`` (0600)."""
    policy_file: Path | None = None
    """Optional TOML compliance policy; the built-in policy is used when unset."""

    polygon_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("POLYGON_API_KEY", "MLTRAINER_POLYGON_API_KEY")
    )
    polygon_base_url: str = "https://api.polygon.io"
    fred_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("FRED_API_KEY", "MLTRAINER_FRED_API_KEY")
    )
    fred_base_url: str = "https://api.stlouisfed.org/fred"
    http_timeout_s: float = 20.0
    http_retries: int = 3

    llm_provider: Literal["auto", "anthropic", "openai", "offline"] = "auto"
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "MLTRAINER_ANTHROPIC_API_KEY"),
    )
    anthropic_model: str = "claude-sonnet-5-5"
    """A current Claude Sonnet (the SDK lists claude-sonnet-4-5 as reaching end of life 2026-11-30)."""
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "MLTRAINER_OPENAI_API_KEY")
    )
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_steps: int = 8

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'mltrainer.db'}"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def imports_dir(self) -> Path:
        return self.home / "imports"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def ensure_home(self) -> None:
        for d in (self.home, self.cache_dir, self.imports_dir, self.reports_dir):
            d.mkdir(parents=True, exist_ok=True)

    def audit_key(self) -> bytes:
        """Return the audit HMAC key, generating it (mode 0600) on first use."""
        path = self.audit_key_file or self.home / "audit.key"
        if path.exists():
            if path.stat().st_mode & 0o077:
                raise ConfigError(
                    f"audit key {path} is readable by other users; run: chmod 600 {path}"
                )
            key = path.read_bytes().strip()
            if len(key) < 32:
                raise ConfigError(f"audit key {path} is too short (need >= 32 bytes)")
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
