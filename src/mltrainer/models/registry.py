"""The model registry: ``REGISTRY[id] -> ModelSpec``, built once from the family modules.

Models are looked up by id (with fuzzy suggestions), never built from a dotted path that a
user or a language model wrote.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable

from ..errors import NotFound
from .base import ModelSpec

__all__ = ["Registry", "build_registry", "FAMILY_MODULES"]

# Each module exposes SPECS: list[ModelSpec].
FAMILY_MODULES = (
    "sklearn_models",
    "boosting",
    "forecasters",
    "volatility",
    "regime",
    "rules",
    "deep",
)


class Registry:
    def __init__(self, specs: Iterable[ModelSpec]):
        self._specs: dict[str, ModelSpec] = {}
        for s in specs:
            if s.id in self._specs:
                raise ValueError(f"duplicate model id '{s.id}'")
            self._specs[s.id] = s

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self):
        return iter(self._specs.values())

    def ids(self) -> list[str]:
        return list(self._specs)

    def get(self, model_id: str) -> ModelSpec:
        spec = self._specs.get(model_id)
        if spec is None:
            raise NotFound(f"unknown model '{model_id}'{self._hint(model_id)}")
        return spec

    def suggest(self, text: str, n: int = 3) -> list[str]:
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        return difflib.get_close_matches(key, self.ids(), n=n, cutoff=0.5)

    def _hint(self, model_id: str) -> str:
        close = self.suggest(str(model_id))
        if close:
            return f"; did you mean {', '.join(close)}?"
        return "; run 'mltrainer models list' to see all models"

    def filter(self, family: str | None = None, task: str | None = None) -> list[ModelSpec]:
        return [
            s
            for s in self._specs.values()
            if (family is None or s.family == family) and (task is None or s.task == task)
        ]

    def families(self) -> list[str]:
        return sorted({s.family for s in self._specs.values()})


def build_registry(modules: Iterable[str] = FAMILY_MODULES) -> Registry:
    specs: list[ModelSpec] = []
    for name in modules:
        mod = importlib.import_module(f"{__package__}.{name}")
        specs.extend(mod.SPECS)
    return Registry(specs)
