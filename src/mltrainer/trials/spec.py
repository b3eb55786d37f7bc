"""Trial specification and result schemas (pydantic): a trial is data that can be replayed."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["TrialSpec", "TrialResult", "FoldResult"]


class TrialSpec(BaseModel):
    """One walk-forward trial.

    Example: ``TrialSpec(model_id="ridge", symbol="SPX", horizon=10, start="2005-01-01")``.
    """

    model_config = ConfigDict(extra="forbid")

    model_id: str
    symbol: str
    source: str = "bundled"
    start: date | None = None
    end: date | None = None
    interval: str | None = Field(None, description="bar interval; default: the source's own")
    horizon: int = Field(
        10,
        ge=1,
        le=500,
        description="label horizon in bars (10 = 10-day forward return on daily bars)",
    )
    feature_set: str = Field(
        "basic", description="returns | basic | macro (see mltrainer.features)"
    )
    window: Literal["expanding", "rolling"] = "expanding"
    window_size: int = Field(
        504, ge=30, description="rolling: training bars; expanding: minimum training bars"
    )
    refit_every: int = Field(
        21, ge=1, description="bars per test fold; the model is refit before each fold"
    )
    purge: int | None = Field(
        None, ge=0, description="bars dropped before each test fold; default = horizon"
    )
    embargo: int = Field(
        0, ge=0, description="extra bars dropped between training and test, on top of purge"
    )
    position_rule: Literal["sign", "threshold", "long_only", "vol_target"] = "sign"
    threshold: float = Field(
        0.0, ge=0, description="threshold rule: |signal| must exceed this to trade"
    )
    vol_target: float = Field(
        0.15, gt=0, le=2, description="annualised volatility target (0.15 = 15%)"
    )
    max_leverage: float = Field(1.0, gt=0, le=5)
    commission_bps: float = Field(1.0, ge=0, le=500, description="per unit of turnover; 1 = 0.01%")
    slippage_bps: float = Field(1.0, ge=0, le=500, description="per unit of turnover; 1 = 0.01%")
    params: dict[str, Any] = Field(default_factory=dict, description="model parameter overrides")
    seed: int = 0
    max_folds: int | None = Field(None, ge=1, description="keep only the last N folds (quick runs)")

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @model_validator(mode="after")
    def _dates(self) -> TrialSpec:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def effective_purge(self) -> int:
        return self.horizon if self.purge is None else self.purge

    def canonical(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    def spec_hash(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


class FoldResult(BaseModel):
    fold: int
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    n_train: int
    n_test: int
    total_return: float | None
    sharpe: float | None
    ic: float | None
    fit_seconds: float


class TrialResult(BaseModel):
    spec: TrialSpec
    spec_hash: str
    data_sha256: str
    model_task: str
    metrics: dict[str, float | None]
    benchmark: dict[str, float | None]
    folds: list[FoldResult]
    equity: list[tuple[str, float, float]] = Field(
        description="(timestamp, strategy equity, buy-and-hold equity)"
    )
    predictions: list[tuple[str, float, float, float | None]] = Field(
        description="(timestamp, prediction, position, label)"
    )
    versions: dict[str, str]
    timings: dict[str, float]
    n_trials: int = 1
