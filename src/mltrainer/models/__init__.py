"""The model registry and the estimator contract (see :mod:`mltrainer.models.base`)."""

from .base import ModelSpec
from .registry import Registry, build_registry

__all__ = ["ModelSpec", "Registry", "build_registry"]
