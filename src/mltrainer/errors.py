"""One exception hierarchy for mlTrainer.

Every error a user can see derives from :class:`MLTrainerError`. Messages say what was
wrong and what to do about it. Library errors are translated at the edge (data sources,
model factories, providers) into the most specific subclass here.
"""

from __future__ import annotations

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
