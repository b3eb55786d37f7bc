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

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError, InputError, describe_validation_error

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """All configuration of one mlTrainer installation.

    Example: ``MLTRAINER_HOME=/tmp/mlt mltrainer data list`` keeps the database, cache and
    audit key under ``/tmp/mlt``.
    """

    model_config = SettingsConfigDict(env_prefix="MLTRAINER_", extra="ignore", allow_inf_nan=False)

    home: Path = Field(default_factory=lambda: Path.home() / ".mltrainer")
    database_url: str | None = None
    """Any SQLAlchemy URL; default: ``sqlite:///<home>/mltrainer.db`` in WAL mode."""
    mlflow_tracking_uri: str | None = None
    """When set (``file:/path``, ``http://host:5000``...), every finished trial is also
    logged to MLflow (the ``mlflow`` extra); see :mod:`mltrainer.trials.tracking`."""
    audit_key_file: Path | None = None
    """File holding the HMAC key of the audit chain; default ``<home>/audit.key`` (0600)."""
    audit_checkpoint_file: Path | None = None
    """Append-only file of signed audit checkpoints; default ``<home>/audit.checkpoints``.
    Keep it on other (ideally append-only/WORM) storage: see README, "Audit log"."""
    audit_checkpoint_every: int = Field(1, ge=1, le=1_000_000)
    """Records between checkpoints (and one more when the process exits); 1 = after each."""
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
    http_timeout_s: float = Field(20.0, gt=0, le=600)
    http_retries: int = Field(3, ge=0, le=20)

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
    llm_timeout_s: float = Field(60.0, gt=0, le=3600)
    llm_max_steps: int = Field(8, ge=1, le=100)
    max_message_bytes: int = Field(32 * 1024, ge=256, le=16 * 1024 * 1024)
    """Longest chat/ask/goal/compliance text accepted (UTF-8 bytes); longer is refused
    before anything is stored, which also bounds the work every text check does."""
    trial_heartbeat_s: float = Field(5.0, gt=0, le=300)
    """How often a running trial writes its heartbeat to its row."""
    trial_lease_s: float = Field(60.0, gt=0, le=86400)
    """A trial owned by another host (or with no pid) whose heartbeat is older than this is
    ``interrupted``; on this host a dead owner pid is enough. Keep it well above the beat."""
    step_lease_s: float = Field(60.0, gt=0, le=86400)
    """A running run step whose worker has not beaten for this long is re-queued (or failed
    after ``step_max_attempts``). Workers beat every ``trial_heartbeat_s``."""
    step_max_attempts: int = Field(3, ge=1, le=100)
    """Claims of one step before a lease expiry fails it instead of re-queueing it."""
    auto_approve: bool = False
    """Queue proposed runs (an agent's multi-step plan) at once instead of waiting for
    ``mltrainer run approve ID`` or "yes" in chat."""
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    """Worker processes of ``mltrainer worker`` and of the pool ``chat``/``ask`` start."""
    embedded_workers: bool = True
    """``chat``/``ask`` start a worker pool in the background when work is queued and no
    worker is alive."""
    executor: Literal["local", "ray"] = "local"
    """Where workers run steps: local processes, or Ray tasks (``ray_address``)."""
    ray_address: str | None = None
    """``auto`` or a Ray cluster address, for ``executor = "ray"``."""
    api_max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    """Largest REST API request body accepted (bytes); a larger one is refused with 413
    before it is read."""
    fold_jobs: int | None = Field(None, ge=1, le=1024)
    """Processes that fit a trial's folds in parallel; unset = one per core, 1 = sequential
    (see :mod:`mltrainer.trials.engine` for how model threads are kept from oversubscribing)."""

    @model_validator(mode="after")
    def _lease_outlasts_beats(self) -> Settings:
        if self.trial_lease_s < 2 * self.trial_heartbeat_s:
            raise ValueError(
                f"MLTRAINER_TRIAL_LEASE_S={self.trial_lease_s:g} must be at least twice "
                f"MLTRAINER_TRIAL_HEARTBEAT_S={self.trial_heartbeat_s:g}, or live trials "
                "on other hosts would look interrupted"
            )
        if self.step_lease_s < 2 * self.trial_heartbeat_s:
            raise ValueError(
                f"MLTRAINER_STEP_LEASE_S={self.step_lease_s:g} must be at least twice "
                f"MLTRAINER_TRIAL_HEARTBEAT_S={self.trial_heartbeat_s:g}, or live steps "
                "would be re-queued"
            )
        return self

    @field_validator("home", mode="before")
    @classmethod
    def _home_not_empty(cls, v: object) -> object:
        if isinstance(v, str) and not v.strip():
            raise ValueError("is empty; unset it or name a folder")
        return v

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        home = v.expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise ValueError(f"{home} exists and is not a folder")
        return home

    @field_validator("polygon_base_url", "fred_base_url", "anthropic_base_url", "openai_base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(v)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (e.g. sqlite:////path/to/mltrainer.db or "
                "postgresql+psycopg://user@host/db)"
            ) from None
        return v

    def require_message_size(self, text: str, what: str = "message") -> None:
        """Refuse text longer than ``max_message_bytes`` before anything stores or scans it."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_message_bytes:
            raise InputError(
                f"{what} is {size:,} bytes; the limit is {self.max_message_bytes:,} "
                "(MLTRAINER_MAX_MESSAGE_BYTES)"
            )

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
        try:
            for d in (self.home, self.cache_dir, self.imports_dir, self.reports_dir):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"MLTRAINER_HOME={self.home} cannot be used: {e.strerror or e}; "
                "point MLTRAINER_HOME at a writable folder"
            ) from e

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.home / "audit.key"

    @property
    def checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.home / "audit.checkpoints"

    def audit_key(self) -> bytes:
        """Return the audit HMAC key, generating it (mode 0600) on first use."""
        path = self.audit_key_path
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
        from .fsio import create_exclusive

        # Appears complete or not at all; if another process starting at the same time
        # created it first, use that key (never a half-written file, never two keys).
        if not create_exclusive(path, key):
            return self.audit_key()
        return key


def _env_names() -> dict[str, str]:
    """Field name -> the environment variable a user sets for it (for error messages)."""
    out = {}
    for name, f in Settings.model_fields.items():
        alias = f.validation_alias
        out[name] = (
            alias.choices[0]
            if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str)
            else f"MLTRAINER_{name.upper()}"
        )
    return out


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, validated at start: a bad value is one ConfigError
    naming the variable and its value (never a secret's value)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        raise ConfigError(describe_validation_error(e, _env_names(), "invalid setting")) from None
