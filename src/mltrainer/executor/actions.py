"""The action registry: every action the executor can run, with a pydantic parameter model.

Agent tools and API endpoints are derived from these models (JSON schema), so parameters
are validated the same way whoever calls. Nothing here evaluates text as code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "ActionRegistry",
    "TrainModelParams",
    "CompareModelsParams",
    "TuneModelParams",
    "RunFinancialParams",
    "ListModelsParams",
    "ListSymbolsParams",
    "TrialStatusParams",
    "ListTrialsParams",
    "DataSummaryParams",
    "RunStatusParams",
    "CancelRunParams",
    "StartResearchParams",
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TrialFields(_Params):
    symbol: str = Field(description="catalogue symbol, e.g. SPX, AAPL, GOOG")
    source: str = Field("bundled", description="data source id: bundled, polygon, fred or file")
    start: date | None = Field(None, description="first date, YYYY-MM-DD")
    end: date | None = Field(None, description="last date, YYYY-MM-DD")
    horizon: int = Field(10, ge=1, le=500, description="label horizon in bars")
    feature_set: Literal["returns", "basic", "macro"] = "basic"
    window: Literal["expanding", "rolling"] = Field(
        "rolling", description="rolling (default, 3 years of bars) or expanding training window"
    )
    window_size: int = Field(
        756, ge=30, description="training bars (rolling) or minimum (expanding)"
    )
    refit_every: int = Field(
        63, ge=1, description="bars per test fold; refit before each (63 = quarterly)"
    )
    position_rule: Literal["sign", "threshold", "long_only", "vol_target"] = "sign"
    commission_bps: float = Field(1.0, ge=0, le=500)
    slippage_bps: float = Field(1.0, ge=0, le=500)
    execution_delay: int = Field(
        1, ge=0, le=500, description="bars from signal to fill (1 = trade at the next close)"
    )
    max_folds: int | None = Field(
        None, ge=1, description="keep only the last N folds for a quick run"
    )


class TrainModelParams(_TrialFields):
    model_id: str = Field(description="registry model id, e.g. random_forest, lightgbm, ridge")
    params: dict[str, Any] = Field(default_factory=dict, description="model parameter overrides")


class CompareModelsParams(_TrialFields):
    model_ids: list[str] = Field(min_length=2, max_length=20)


class TuneModelParams(_TrialFields):
    model_id: str = Field(description="registry model id whose search space is tuned")
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed model parameters (not tuned)"
    )
    n_trials: int = Field(20, ge=1, le=500, description="Optuna trials (walk-forward trials)")
    study: str | None = Field(
        None, max_length=80, description="study name; the same name resumes the study"
    )
    metric: Literal["sharpe", "sortino", "calmar", "cagr", "ic", "rank_ic", "psr"] = Field(
        "sharpe", description="metric the search maximises"
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the TPE sampler and models")


class RunFinancialParams(_Params):
    model_id: str = Field(description="financial model id, e.g. black_scholes, portfolio_hrp")
    params: dict[str, Any] = Field(default_factory=dict)


class ListModelsParams(_Params):
    family: str | None = None
    task: str | None = None


class ListSymbolsParams(_Params):
    kind: str | None = Field(None, description="ohlcv, price, economic, factors")


class TrialStatusParams(_Params):
    trial_id: str


class ListTrialsParams(_Params):
    limit: int = Field(20, ge=1, le=500, description="how many, newest first")
    model_id: str | None = Field(None, description="only this registry model")
    symbol: str | None = Field(None, description="only this symbol")


class DataSummaryParams(_Params):
    symbol: str
    source: str = "bundled"
    start: date | None = None
    end: date | None = None


class RunStatusParams(_Params):
    run_id: str | None = Field(
        None, description="run id, e.g. run_20250101_120000_abc123; omitted: the latest runs"
    )


class CancelRunParams(_Params):
    run_id: str = Field(description="the run to cancel")


class StartResearchParams(_Params):
    goal_id: str | None = Field(None, description="goal to search toward; default: the active one")
    symbol: str = Field("SPX", description="catalogue symbol to search on")
    source: str = Field("bundled", description="data source id")
    max_trials: int = Field(20, ge=1, le=10_000, description="at most this many trials")
    max_minutes: float = Field(
        30.0, gt=0, le=43_200, description="no new trial starts after this many minutes"
    )
    workers: int = Field(1, ge=1, le=256, description="trials proposed at a time")
    max_folds: int | None = Field(
        None, ge=1, description="keep only the last N folds of each trial"
    )
    tune_trials: int = Field(
        8,
        ge=1,
        le=500,
        description="Optuna trials per candidate with a search space (1 = registry defaults)",
    )


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    params: type[BaseModel]
    handler: Callable[[Any], dict[str, Any]]
    fixed: dict[str, Any] | None = None
    """Parameters bound by a dynamic action (``train_model_ridge`` fixes model_id)."""


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, action: Action) -> None:
        if action.name in self._actions:
            raise ValueError(f"action '{action.name}' registered twice")
        self._actions[action.name] = action

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def __getitem__(self, name: str) -> Action:
        return self._actions[name]

    def names(self) -> list[str]:
        return list(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __len__(self) -> int:
        return len(self._actions)
