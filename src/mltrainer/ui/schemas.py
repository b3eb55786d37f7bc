"""What the UI reads from the API, as pydantic models (the UI's side of the boundary).

They mirror the API's ``*Public`` schemas for the fields the pages show, and accept fields
they do not know (``extra="allow"``), so a newer API does not break an older UI. They are
defined here, not imported from :mod:`mltrainer.api`, because the UI is a client only.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Listing",
    "Health",
    "Model",
    "ModelDetail",
    "CatalogueEntry",
    "SymbolSummary",
    "Trial",
    "EquityPoint",
    "TrialEquity",
    "Replay",
    "Goal",
    "Step",
    "Run",
    "ResearchStarted",
    "ResearchReport",
    "MemoryStats",
    "AuditVerify",
    "AuditRecord",
    "ChatAction",
    "ChatReply",
    "Conversation",
    "ConversationMessage",
    "TextDelta",
    "ActionEvent",
    "ProgressEvent",
    "ReplyEvent",
    "ChatEvent",
]

T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Listing(_Out, Generic[T]):
    """A ``{data, count}`` list; ``count`` may exceed ``len(data)`` when paged."""

    data: list[T]
    count: int


class Health(_Out):
    status: str
    version: str
    schema_revision: str


class Model(_Out):
    id: str
    family: str
    task: str
    description: str
    available: bool


class ModelDetail(Model):
    library: str
    defaults: dict[str, Any] = Field(default_factory=dict)
    search_space: dict[str, list[Any]] = Field(default_factory=dict)
    install_hint: str | None = None


class CatalogueEntry(_Out):
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


class SymbolSummary(_Out):
    symbol: str
    kind: str
    rows: int
    first: str
    last: str
    last_close: float | None = None
    mean_return: float | None = None
    volatility: float | None = None
    sha256: str
    provenance: dict[str, Any] = Field(default_factory=dict)


class Trial(_Out):
    id: str
    status: str
    model_id: str
    symbol: str
    source: str
    goal_id: str | None = None
    study: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    sharpe: float | None = None
    metrics: dict[str, float | int | None] | None = None
    benchmark: dict[str, float | int | None] | None = None
    n_trials: int | None = None
    spec: dict[str, Any] | None = None
    spec_hash: str
    data_hash: str | None = None
    error: str | None = None
    versions: dict[str, str] | None = None
    """Library versions the trial ran with (when the API returns them)."""


class EquityPoint(_Out):
    """One bar of a trial's out-of-sample equity, net of costs, and its drawdowns
    (fractions: -0.12 = 12% below the running peak), as the API computed them."""

    ts: str
    strategy: float
    buy_and_hold: float
    strategy_drawdown: float
    buy_and_hold_drawdown: float


class TrialEquity(_Out):
    trial_id: str
    data: list[EquityPoint]
    count: int


class Replay(_Out):
    trial_id: str
    identical: bool


class Goal(_Out):
    id: str
    text: str
    components: dict[str, Any] = Field(default_factory=dict)
    status: str
    created_at: str
    created_by: str
    archived_at: str | None = None


class Step(_Out):
    seq: int
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    status: str
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    error: str | None = None
    trial_id: str | None = None


class Run(_Out):
    id: str
    kind: str
    status: str
    finish_reason: str | None = None
    owner: str
    goal_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None
    steps_total: int
    steps_done: int
    error: str | None = None
    summary: dict[str, Any] | None = None
    steps: list[Step] | None = None

    @property
    def active(self) -> bool:
        """Still going (or waiting to): workers may change it."""
        return self.status in ("proposed", "queued", "running", "paused")


class ResearchStarted(_Out):
    run_id: str
    status: str
    goal_id: str | None = None
    symbol: str
    budget: dict[str, Any] = Field(default_factory=dict)
    holdout: dict[str, Any] = Field(default_factory=dict)


class ResearchReport(_Out):
    """A search run's report: its budget, its holdout seal and (when finished) its summary
    (leaderboard, holdout verdict, PBO, run DSR)."""

    id: str
    status: str
    finish_reason: str | None = None
    goal_id: str | None = None
    steps_total: int = 0
    steps_done: int = 0
    error: str | None = None
    budget: dict[str, Any] | None = None
    holdout_seal: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None


class MemoryStats(_Out):
    total: int
    by_role: dict[str, int] = Field(default_factory=dict)
    top_topics: list[dict[str, Any]] = Field(default_factory=list)
    importance_histogram: dict[str, int] = Field(default_factory=dict)


class AuditVerify(_Out):
    ok: bool
    records: int
    checkpoints: int = 0
    seals: int = 0
    unsealed: list[str] = Field(default_factory=list)
    first_bad_seq: int | None = None
    first_bad_subject: str | None = None
    problem: str | None = None


class AuditRecord(_Out):
    seq: int
    ts: str
    kind: str
    actor: str
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class ChatAction(_Out):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    success: bool
    error: str | None = None
    data: Any = None


class ChatReply(_Out):
    conversation_id: str
    text: str
    actions: list[ChatAction] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    goal_id: str | None = None
    refused: bool = False


class Conversation(_Out):
    id: str
    messages: int
    first_at: str | None = None
    last_at: str | None = None
    open: bool = True
    """Held by the server, so a chat turn can continue it."""


class ConversationMessage(_Out):
    id: int
    ts: str
    role: str
    content: str
    flags: list[str] = Field(default_factory=list)
    goal_id: str | None = None


# -- the events of POST /chat/stream ------------------------------------------------------------
class TextDelta(_Out):
    kind: Literal["text"] = "text"
    delta: str


class ActionEvent(_Out):
    kind: Literal["action"] = "action"
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ProgressEvent(_Out):
    """Folds of the trial running now: ``done`` of ``total``."""

    kind: Literal["progress"] = "progress"
    done: int
    total: int


class ReplyEvent(_Out):
    kind: Literal["reply"] = "reply"
    reply: ChatReply


ChatEvent = TextDelta | ActionEvent | ProgressEvent | ReplyEvent
