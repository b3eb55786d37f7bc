"""One exception hierarchy for mlTrainer.

Every error a user can see derives from :class:`MLTrainerError`. Messages say what was
wrong and what to do about it. Library errors are translated at the edge (data sources,
model factories, providers) into the most specific subclass here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "MLTrainerError",
    "ConfigError",
    "ComplianceError",
    "DataError",
    "ModelError",
    "TrialError",
    "NotFound",
    "ProviderError",
    "AuditError",
    "InputError",
    "describe_validation_error",
]


class MLTrainerError(Exception):
    """Root of every error mlTrainer raises on purpose."""


class ConfigError(MLTrainerError):
    """Settings or a policy file are invalid."""


class ComplianceError(MLTrainerError):
    """A request was refused by the compliance gateway.

    The message always contains the word "compliance" so callers and users can tell a
    policy refusal from any other failure.
    """

    def __init__(self, reason: str):
        msg = reason if "compliance" in reason.lower() else f"compliance: {reason}"
        super().__init__(msg)
        self.reason = reason


class DataError(MLTrainerError):
    """Market data could not be loaded, or failed validation."""


class ModelError(MLTrainerError):
    """A model id or its parameters are invalid, or the model failed to train."""


class TrialError(MLTrainerError):
    """A trial specification is invalid or a trial could not be run."""


class NotFound(MLTrainerError):
    """A named object (trial, goal, symbol, model, action) does not exist."""


class ProviderError(MLTrainerError):
    """A language-model provider failed (network, auth, rate limit, bad response)."""


class AuditError(MLTrainerError):
    """The audit log could not be written or read."""


class InputError(MLTrainerError):
    """User input is unusable as given (too long, out of range, malformed)."""


# Field names whose input value must never be echoed in a message.
_SECRET_HINTS = ("key", "token", "secret", "password")


def _show(value: Any, limit: int = 80) -> str:
    """repr of a bad value, shortened, with any URL password masked."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_validation_error(
    err: ValidationError, names: dict[str, str] | None = None, prefix: str = ""
) -> str:
    """One line per problem, naming the field and the bad value (never a secret's value).

    ``names`` maps a field to what the user typed (``{"http_retries":
    "MLTRAINER_HTTP_RETRIES"}``); pydantic's help links are left out.
    """
    lines = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        field = str(e["loc"][0]) if e["loc"] else ""
        shown = (names or {}).get(field, field) + loc[len(field) :]
        msg = e["msg"].removeprefix("Value error, ")
        if not loc:  # a whole-object check: its message names the values itself
            lines.append(msg)
        elif any(h in field.lower() for h in _SECRET_HINTS) or e["type"] == "missing":
            lines.append(f"{shown}: {msg}")
        else:
            lines.append(f"{shown}={_show(e['input'])}: {msg}")
    head = f"{prefix}: " if prefix else ""
    return head + "; ".join(lines)
