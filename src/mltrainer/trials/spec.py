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

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model_id: str = Field(min_length=1, max_length=100)
    symbol: str = Field(min_length=1, max_length=40)
    source: str = Field("bundled", min_length=1, max_length=40)
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
        504,
        ge=30,
        le=1_000_000,
        description="rolling: training bars; expanding: minimum training bars",
    )
    refit_every: int = Field(
        21, ge=1, le=100_000, description="bars per test fold; the model is refit before each fold"
    )
    purge: int | None = Field(
        None, ge=0, le=10_000, description="bars dropped before each test fold; default = horizon"
    )
    embargo: int = Field(
        0,
        ge=0,
        le=10_000,
        description="extra bars dropped between training and test, on top of purge",
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
    execution_delay: int = Field(
        1,
        ge=0,
        le=500,
        description="bars from signal to fill: the position decided at the close of bar t is "
        "held from close[t+delay] to close[t+delay+1]; 0 = filled at the signal's own close",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="model parameter overrides")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="numpy-style seed: 0 .. 2**32-1")
    max_folds: int | None = Field(
        None, ge=1, le=100_000, description="keep only the last N folds (quick runs)"
    )

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("symbol is empty")
        return v.strip().upper()

    @field_validator("feature_set")
    @classmethod
    def _known_feature_set(cls, v: str) -> str:
        from ..features import FEATURE_SETS  # imported here: pandas is not needed to build a spec

        if v not in FEATURE_SETS:
            raise ValueError(f"unknown feature set; use one of {', '.join(FEATURE_SETS)}")
        return v

    @model_validator(mode="after")
    def _dates(self) -> TrialSpec:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def effective_purge(self) -> int:
        return self.horizon if self.purge is None else self.purge

    def canonical(self) -> dict[str, Any]:
        """The stored form. ``execution_delay`` 0 is left out: specs stored before the field
        existed were filled at the signal's close and have no key, so their hash is kept."""
        out = json.loads(self.model_dump_json())
        if out.get("execution_delay") == 0:
            del out["execution_delay"]
        return out

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> TrialSpec:
        """A spec as stored (``canonical()`` or an older dump): no ``execution_delay`` = 0."""
        return cls.model_validate({"execution_delay": 0, **data})

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
    model_params: dict[str, Any] | None = Field(
        None,
        description="the parameters the model was fitted with: registry defaults, the "
        "spec's overrides and the seed (None: stored before they were recorded; a replay then "
        "uses the model's former defaults)",
    )
    n_trials: int = 1
    other_sharpes: list[float] = Field(
        default_factory=list,
        description="per-period Sharpes of the other counted trials, as the DSR used them "
        "(so a replay deflates by the same trials)",
    )
    periods_per_year: float | None = Field(
        None, description="bars per year used to annualise (None: stored before it was recorded)"
    )
    frequency: str | None = Field(
        None, description="how periods_per_year was obtained (calendar or measured)"
    )

    @field_validator("spec", mode="before")
    @classmethod
    def _stored_spec(cls, v: Any) -> Any:
        # A stored result's spec without execution_delay predates the field: delay 0.
        return {"execution_delay": 0, **v} if isinstance(v, dict) else v
