"""Secrets scrubbed by name and by value, before any text leaves mlTrainer's hands.

A key can leak where nobody named it: a server that echoes request headers or the query
string into an error body puts the Polygon key into a ``DataError``, and from there into
stderr, a ``trial.failed`` audit payload and ``trials.error``. Scrubbing by key name
(``api_key``, ``token``...) cannot catch that, so a :class:`Scrubber` also replaces every
configured secret's *value* (and its URL- and JSON-escaped forms) by ``***``.

One scrubber is built from :class:`~mltrainer.settings.Settings` (every ``SecretStr``
field: ``POLYGON_API_KEY``, ``FRED_API_KEY``, ``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``...)
plus the audit key, and passed to what writes text out: the audit log, the data service
(the data-source edge), the trial store, the executor, and the CLI's error printer. The
``App`` installs :meth:`Scrubber.log_filter` on the root logger's handlers.

Values shorter than :data:`MIN_SECRET_LENGTH` characters are not scrubbed (replacing
every "a" in a message would destroy it); no real API key is that short.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["REDACTED", "MIN_SECRET_LENGTH", "Scrubber", "SecretLogFilter", "scrub_secrets"]

REDACTED = "***"
MIN_SECRET_LENGTH = 6
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|passwd|authorization)", re.I)


def scrub_secrets(obj: Any) -> Any:
    """A copy of ``obj`` with the values of secret-looking keys replaced by ``***``."""
    if isinstance(obj, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else scrub_secrets(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [scrub_secrets(v) for v in obj]
    return obj


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text or None


def _forms(secret: str) -> set[str]:
    """The ways a value shows up in text: as is, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


class Scrubber:
    """Replaces secret values (and secret-named fields) by ``***``. Immutable."""

    def __init__(self, secrets: Iterable[Any] = ()):
        values = {p for p in map(_plain, secrets) if p and len(p) >= MIN_SECRET_LENGTH}
        self._values = frozenset(values)
        forms = {f for v in values for f in _forms(v) if len(f) >= MIN_SECRET_LENGTH}
        # Longest first, so a value that contains another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._rx = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_settings(cls, settings: Settings, *extra: Any) -> Scrubber:
        """Every ``SecretStr`` setting, plus ``extra`` values (the audit key)."""
        values = [getattr(settings, name, None) for name in type(settings).model_fields]
        return cls([v for v in values if hasattr(v, "get_secret_value")] + list(extra))

    @classmethod
    def of_installation(cls, settings: Settings) -> Scrubber:
        """:meth:`from_settings` plus the audit key when its file exists (never creates
        one): for error paths that run without an ``App``."""
        extra = []
        try:
            if settings.audit_key_path.is_file():
                extra.append(settings.audit_key_path.read_bytes().strip())
        except OSError:
            pass
        return cls.from_settings(settings, *extra)

    def including(self, *values: Any) -> Scrubber:
        """A scrubber that also removes ``values``."""
        return Scrubber([*self._values, *values])

    def __bool__(self) -> bool:
        return self._rx is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scrubber) and other._values == self._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:  # never the values themselves
        return f"Scrubber({len(self._values)} secrets)"

    # -- scrubbing -----------------------------------------------------------------------
    def text(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``."""
        if self._rx is None or not text:
            return text
        return self._rx.sub(REDACTED, text)

    def __call__(self, obj: Any) -> Any:
        """A copy of ``obj`` (JSON-like) scrubbed by key name and by value."""
        obj = scrub_secrets(obj)
        return self._values_in(obj) if self._rx is not None else obj

    def _values_in(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {
                (self.text(k) if isinstance(k, str) else k): self._values_in(v)
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            return [self._values_in(v) for v in obj]
        return obj

    def exception(self, exc: BaseException) -> BaseException:
        """Scrub ``exc`` in place (its text arguments, notes, and every exception it was
        raised from) and return it, so ``raise`` after this cannot leak a secret."""
        if self._rx is None:
            return exc
        seen: set[int] = set()
        stack: list[BaseException | None] = [exc]
        while stack:
            e = stack.pop()
            if e is None or id(e) in seen:
                continue
            seen.add(id(e))
            e.args = tuple(self.text(a) if isinstance(a, str) else a for a in e.args)
            for attr in ("reason", "message", "msg", "body"):
                value = getattr(e, attr, None)
                if isinstance(value, str):
                    with contextlib.suppress(AttributeError, TypeError):  # read-only
                        setattr(e, attr, self.text(value))
            notes = getattr(e, "__notes__", None)
            if isinstance(notes, list):
                e.__notes__ = [self.text(n) if isinstance(n, str) else n for n in notes]
            stack += [e.__cause__, e.__context__]
        return exc

    def log_filter(self) -> SecretLogFilter:
        return SecretLogFilter(self)


class SecretLogFilter(logging.Filter):
    """A handler filter that scrubs each record's message, arguments and traceback."""

    def __init__(self, scrubber: Scrubber):
        super().__init__()
        self.scrubber = scrubber
        self._on: list[logging.Filterer] = []

    def attach(self) -> None:
        """Filter the root logger and every handler it has now (records from child
        loggers reach those handlers; a logger's own filters see only its own records)."""
        root = logging.getLogger()
        for target in [root, *root.handlers]:
            if target not in self._on:
                target.addFilter(self)
                self._on.append(target)

    def detach(self) -> None:
        for target in self._on:
            target.removeFilter(self)
        self._on.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        s = self.scrubber
        if not s:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep logging's own error path
            return True
        record.msg, record.args = s.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = s.text(record.exc_text)
        if record.stack_info:
            record.stack_info = s.text(record.stack_info)
        return True
