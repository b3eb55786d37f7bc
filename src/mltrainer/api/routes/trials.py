"""``/trials``: list (filters, paging), get, create (runs synchronously), replay, report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ...trials.spec import TrialSpec
from ..deps import ExecutorDep, TokenDep
from ..schemas import (
    EquityPointPublic,
    ReplayPublic,
    TrialCreate,
    TrialEquityPublic,
    TrialPublic,
    TrialsPublic,
)

router = APIRouter(prefix="/trials", tags=["trials"])


def public(d: dict[str, Any]) -> TrialPublic:
    """A stored trial (``TrialStore.get``/``list``) as its public schema."""
    res = d.get("result") or {}
    return TrialPublic(
        id=d["id"],
        status=d["status"],
        model_id=d["model_id"],
        symbol=d["symbol"],
        source=d["source"],
        goal_id=d["goal_id"],
        study=d["study"],
        created_at=d["created_at"],
        finished_at=d["finished_at"],
        sharpe=d["sharpe"],
        metrics=res.get("metrics") or d.get("metrics"),
        benchmark=res.get("benchmark"),
        n_trials=res.get("n_trials"),
        spec=d.get("spec"),
        spec_hash=d["spec_hash"],
        data_hash=d["data_hash"],
        error=d["error"],
        versions=res.get("versions"),
    )


@router.get("", response_model=TrialsPublic)
def list_trials(
    executor: ExecutorDep,
    model_id: str | None = None,
    symbol: str | None = None,
    goal_id: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**31 - 1),
) -> TrialsPublic:
    """Trials newest first; ``count`` is every trial matching the filters."""
    store = executor.store
    rows = store.list(limit=limit, goal_id=goal_id, model_id=model_id, symbol=symbol, offset=offset)
    total = store.count(goal_id=goal_id, model_id=model_id, symbol=symbol)
    return TrialsPublic(data=[public(r) for r in rows], count=total)


@router.post("", response_model=TrialPublic, status_code=201)
def create_trial(body: TrialCreate, executor: ExecutorDep, token: TokenDep) -> TrialPublic:
    """Run one walk-forward trial now (synchronously) and return it as stored."""
    spec = TrialSpec.model_validate(body.model_dump(exclude={"goal_id"}))
    symbol = executor.app.data.resolve_symbol(spec.symbol, spec.source, actor=token.name)
    spec = spec.model_copy(update={"symbol": symbol})
    executor.registry.get(spec.model_id)
    tid, _result = executor.runner.run(spec, goal_id=body.goal_id, actor=token.name)
    return public(executor.store.get(tid))


@router.get("/{trial_id}", response_model=TrialPublic)
def get_trial(trial_id: str, executor: ExecutorDep) -> TrialPublic:
    return public(executor.store.get(trial_id))


@router.post("/{trial_id}/replay", response_model=ReplayPublic)
def replay(trial_id: str, executor: ExecutorDep, token: TokenDep) -> dict[str, Any]:
    """Re-run a stored trial from its spec and compare every stored value (not stored anew)."""
    from ...trials.replay import replay_trial

    rep = replay_trial(
        executor.engine, executor.store, executor.app.audit, trial_id, actor=token.name
    )
    return rep.to_dict()


@router.get(
    "/{trial_id}/report",
    response_model=None,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def report(trial_id: str, executor: ExecutorDep) -> HTMLResponse:
    """The trial's HTML report (Plotly equity and drawdown against buy-and-hold)."""
    from ...trials.report import write_report

    result = executor.store.result(trial_id)  # NotFound when it has no result
    html_path = executor.app.settings.reports_dir / f"{trial_id}.html"
    if not html_path.is_file():  # reports are written atomically: present means whole
        html_path, _json = write_report(result, trial_id, executor.app.settings.reports_dir)
    return HTMLResponse(html_path.read_text(encoding="utf-8"))


@router.get("/{trial_id}/equity", response_model=TrialEquityPublic)
def equity(trial_id: str, executor: ExecutorDep) -> TrialEquityPublic:
    """The stored equity curves for a chart (values as the trial computed them)."""
    from ...trials.metrics import equity_drawdown

    result = executor.store.result(trial_id)  # NotFound when it has no result
    dd = equity_drawdown([e[1] for e in result.equity])
    bdd = equity_drawdown([e[2] for e in result.equity])
    data = [
        EquityPointPublic(
            ts=str(e[0]),
            strategy=e[1],
            buy_and_hold=e[2],
            strategy_drawdown=float(a),
            buy_and_hold_drawdown=float(b),
        )
        for e, a, b in zip(result.equity, dd, bdd, strict=True)
    ]
    return TrialEquityPublic(trial_id=trial_id, data=data, count=len(data))
