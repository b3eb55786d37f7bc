"""``/financial``: financial models (pricing, portfolio, risk): list and run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import AppDep, TokenDep
from ..schemas import FinancialModelPublic, FinancialModelsPublic, FinancialResult, FinancialRunIn

router = APIRouter(prefix="/financial", tags=["financial"])


@router.get("", response_model=FinancialModelsPublic)
def list_financial(task: str | None = None, category: str | None = None) -> FinancialModelsPublic:
    from ...financial import FINANCIAL

    rows = [
        FinancialModelPublic(
            id=fid,
            category=f.category,
            task=f.task,
            description=f.description,
            needs_data=f.needs_data,
            params_schema=f.params.model_json_schema(),
        )
        for fid, f in FINANCIAL.items()
        if (task is None or f.task == task) and (category is None or f.category == category)
    ]
    return FinancialModelsPublic(data=rows, count=len(rows))


@router.post("/{model_id}/run", response_model=FinancialResult)
def run_financial(
    model_id: str, body: FinancialRunIn, app: AppDep, token: TokenDep
) -> FinancialResult:
    """Run one financial model on real data (its parameters validated first, 422)."""
    from ...financial import run_financial as run

    app.gateway.require_params(body.params, actor=token.name)

    def fetch(symbol: str, start: Any = None, end: Any = None) -> Any:
        return app.data.fetch(symbol, start=start, end=end, actor=token.name)

    return FinancialResult(model_id=model_id, result=run(model_id, fetch, **body.params))
