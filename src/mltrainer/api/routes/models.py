"""``/models``: the model registry and the financial models, by family and task."""

from __future__ import annotations

from fastapi import APIRouter

from ...executor.actions import ListModelsParams
from ..deps import ExecutorDep
from ..schemas import ModelDetail, ModelPublic, ModelsPublic

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsPublic)
def list_models(
    executor: ExecutorDep, family: str | None = None, task: str | None = None
) -> ModelsPublic:
    """Registry and financial models; ``family``/``task`` filter (e.g. task=regression)."""
    out = executor.list_models(ListModelsParams(family=family, task=task))
    return ModelsPublic(data=[ModelPublic(**m) for m in out["models"]], count=out["count"])


@router.get("/{model_id}", response_model=ModelDetail)
def show_model(model_id: str, executor: ExecutorDep) -> ModelDetail:
    spec = executor.registry.get(model_id)  # NotFound/ModelError naming close ids
    return ModelDetail(
        id=spec.id,
        family=spec.family,
        task=spec.task,
        description=spec.description,
        available=spec.available,
        library=spec.library,
        defaults=dict(spec.defaults),
        search_space={k: list(v) for k, v in spec.search_space.items()},
        install_hint=spec.install_hint,
    )
