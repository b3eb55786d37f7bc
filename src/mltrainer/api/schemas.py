"""Pydantic schemas of the REST boundary, one per direction, separate from the rows.

``*Public`` is what a response holds (never a secret, a token or a hash of one);
``*Create``/``*In`` is what a request may send (unknown fields are refused, 422).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..executor.actions import StartResearchParams
from ..trials.spec import TrialSpec

__all__ = [
    "Problem",
    "Health",
    "ModelPublic",
    "ModelsPublic",
    "ModelDetail",
    "CatalogueEntryPublic",
    "CataloguePublic",
    "SymbolSummary",
    "TrialCreate",
    "TrialPublic",
    "TrialsPublic",
    "ReplayPublic",
    "GoalIn",
    "GoalPublic",
    "GoalsPublic",
    "GoalEvaluationPublic",
    "StepIn",
    "RunCreate",
    "StepPublic",
    "RunPublic",
    "RunsPublic",
    "RunReport",
    "FinancialModelPublic",
    "FinancialModelsPublic",
    "FinancialRunIn",
    "FinancialResult",
    "MemoryHit",
    "MemoryHitsPublic",
    "AuditVerifyPublic",
    "AuditRecordPublic",
    "AuditRecordsPublic",
    "ChatIn",
    "ChatActionPublic",
    "ChatReply",
    "ResearchCreate",
    "ResearchStarted",
    "ResearchReport",
    "EquityPointPublic",
    "TrialEquityPublic",
    "ConversationPublic",
    "ConversationsPublic",
    "MessagePublic",
    "MessagesPublic",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """Every error response: ``{"type", "title", "status", "detail"}``."""

    type: str
    title: str
    status: int
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    schema_revision: str


# -- models -----------------------------------------------------------------------------------
class ModelPublic(BaseModel):
    id: str
    family: str
    task: str
    description: str
    available: bool


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int


class ModelDetail(ModelPublic):
    library: str
    defaults: dict[str, Any]
    search_space: dict[str, list[Any]]
    install_hint: str | None = None


# -- data -------------------------------------------------------------------------------------
class CatalogueEntryPublic(BaseModel):
    symbol: str
    source: str
    kind: str
    interval: str
    first: str
    last: str
    rows: int
    dataset: str
    description: str
    note: str = ""


class CataloguePublic(BaseModel):
    data: list[CatalogueEntryPublic]
    count: int


class SymbolSummary(BaseModel):
    """One symbol's data and where it came from (package, version, dataset, SHA-256)."""

    symbol: str
    kind: str
    rows: int
    first: str
    last: str
    last_close: float | None
    mean_return: float | None
    volatility: float | None
    sha256: str
    provenance: dict[str, Any]


# -- trials -----------------------------------------------------------------------------------
class TrialCreate(TrialSpec):
    """A trial spec (see ``mltrainer trial run``), plus the goal it counts toward."""

    goal_id: str | None = Field(None, max_length=40, description="deflate over this goal's trials")


class TrialPublic(BaseModel):
    id: str
    status: str
    model_id: str
    symbol: str
    source: str
    goal_id: str | None
    study: str | None
    created_at: str | None
    finished_at: str | None
    sharpe: float | None
    metrics: dict[str, float | int | None] | None = None
    benchmark: dict[str, float | int | None] | None = None
    n_trials: int | None = None
    spec: dict[str, Any] | None = None
    spec_hash: str
    data_hash: str | None
    error: str | None
    versions: dict[str, Any] | None = Field(
        None, description="library versions the trial ran with (provenance)"
    )


class TrialsPublic(BaseModel):
    data: list[TrialPublic]
    count: int


class ReplayPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    trial_id: str
    identical: bool


# -- goals ------------------------------------------------------------------------------------
class GoalIn(_In):
    text: str = Field(min_length=1, description="e.g. 'momentum on SPX, Sharpe above 1, 7-12 days'")


class GoalPublic(BaseModel):
    id: str
    text: str
    components: dict[str, Any]
    status: str
    created_at: datetime
    created_by: str
    archived_at: datetime | None = None


class GoalsPublic(BaseModel):
    data: list[GoalPublic]
    count: int


class GoalEvaluationPublic(BaseModel):
    goal_id: str
    trial_id: str
    model_id: str
    symbol: str
    evaluation: dict[str, Any]


# -- runs -------------------------------------------------------------------------------------
class StepIn(_In):
    action: str = Field(min_length=1, max_length=120, description="e.g. train_model")
    params: dict[str, Any] = Field(default_factory=dict)


class RunCreate(_In):
    steps: list[StepIn] = Field(min_length=1, max_length=1000)
    kind: Literal["batch", "plan"] = "batch"
    goal_id: str | None = Field(None, max_length=40)


class StepPublic(BaseModel):
    seq: int
    action: str
    params: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None
    outcome: dict[str, Any] | None
    error: str | None
    trial_id: str | None


class RunPublic(BaseModel):
    id: str
    kind: str
    status: str
    finish_reason: str | None
    owner: str
    goal_id: str | None
    created_at: str | None
    started_at: str | None
    updated_at: str | None
    finished_at: str | None
    steps_total: int
    steps_done: int
    error: str | None
    summary: dict[str, Any] | None = None
    steps: list[StepPublic] | None = None


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int


class RunReport(BaseModel):
    run: RunPublic
    counts: dict[str, int]
    step_seconds: float
    steps: list[dict[str, Any]]
    summary: dict[str, Any] | None


# -- financial --------------------------------------------------------------------------------
class FinancialModelPublic(BaseModel):
    id: str
    category: str
    task: str
    description: str
    needs_data: bool
    params_schema: dict[str, Any]


class FinancialModelsPublic(BaseModel):
    data: list[FinancialModelPublic]
    count: int


class FinancialRunIn(_In):
    params: dict[str, Any] = Field(default_factory=dict)


class FinancialResult(BaseModel):
    model_id: str
    result: dict[str, Any]


# -- memory and audit -------------------------------------------------------------------------
class MemoryHit(BaseModel):
    id: int
    ts: datetime
    role: str
    content: str
    topics: list[str]
    importance: float
    goal_id: str | None
    conversation_id: str | None
    score: float


class MemoryHitsPublic(BaseModel):
    data: list[MemoryHit]
    count: int


class AuditVerifyPublic(BaseModel):
    ok: bool
    records: int
    checkpoints: int
    seals: int
    unsealed: list[str]
    first_bad_seq: int | None
    first_bad_subject: str | None
    problem: str | None


class AuditRecordPublic(BaseModel):
    seq: int
    ts: str
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditRecordsPublic(BaseModel):
    data: list[AuditRecordPublic]
    count: int


# -- chat -------------------------------------------------------------------------------------
class ChatIn(_In):
    message: str = Field(min_length=1, description="e.g. 'train ridge on SPX from 2010 to 2016'")
    conversation_id: str | None = Field(
        None, max_length=80, description="continue this conversation (from an earlier reply)"
    )


class ChatActionPublic(BaseModel):
    name: str
    params: dict[str, Any]
    success: bool
    error: str | None = None
    data: Any = None


class ChatReply(BaseModel):
    conversation_id: str
    text: str
    actions: list[ChatActionPublic]
    flags: list[str]
    goal_id: str | None
    refused: bool


# -- conversations ----------------------------------------------------------------------------
class ConversationPublic(BaseModel):
    id: str
    messages: int
    first_at: datetime | None
    last_at: datetime | None
    open: bool = Field(description="held by this server, so POST /chat can continue it")


class ConversationsPublic(BaseModel):
    data: list[ConversationPublic]
    count: int


class MessagePublic(BaseModel):
    id: int
    ts: datetime
    role: str
    content: str
    topics: list[str]
    importance: float
    flags: list[str] = Field(description="unverified-number and compliance flags")
    goal_id: str | None


class MessagesPublic(BaseModel):
    data: list[MessagePublic]
    count: int


# -- research ---------------------------------------------------------------------------------
class ResearchCreate(StartResearchParams):
    """A goal-driven search: the ``start_research`` tool's parameters."""


class ResearchStarted(BaseModel):
    run_id: str
    status: str
    goal_id: str | None
    symbol: str
    budget: dict[str, Any]
    holdout: dict[str, Any] = Field(description="sealed_from and in_sample_end dates")


class ResearchReport(BaseModel):
    """``mltrainer research report --json``: leaderboard, holdout verdict, PBO and N."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    finish_reason: str | None
    goal_id: str | None
    steps_total: int
    steps_done: int
    error: str | None
    budget: dict[str, Any] | None
    holdout_seal: dict[str, Any] | None
    summary: dict[str, Any] | None


class EquityPointPublic(BaseModel):
    ts: str
    strategy: float
    buy_and_hold: float
    strategy_drawdown: float
    buy_and_hold_drawdown: float


class TrialEquityPublic(BaseModel):
    """A trial's stored out-of-sample equity (net of costs) against buy-and-hold, with the
    drawdown of each; the strategy's lowest drawdown is the trial's ``max_drawdown``."""

    trial_id: str
    data: list[EquityPointPublic]
    count: int
