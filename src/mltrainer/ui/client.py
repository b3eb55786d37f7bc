"""A small typed client of the mlTrainer REST API (httpx), the UI's only way in.

One method per endpoint the UI uses; each returns a model of :mod:`.schemas`. Every
failure is one :class:`ApiError` whose message is the API's problem ``detail`` (or, when
the API does not answer, what to check), so a page can show it as it is::

    api = ApiClient("http://127.0.0.1:8000", token)
    try:
        trial = api.trial("trial_20250101_120000_abc123")
    except ApiError as e:
        st.error(str(e))

Streams (``POST /chat/stream``, ``GET /runs/{id}/events``) are Server-Sent Events read
line by line as they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .schemas import (
    ActionEvent,
    AuditRecord,
    AuditVerify,
    CatalogueEntry,
    ChatEvent,
    ChatReply,
    Conversation,
    ConversationMessage,
    Goal,
    Health,
    Listing,
    MemoryStats,
    Model,
    ModelDetail,
    ProgressEvent,
    Replay,
    ReplyEvent,
    ResearchReport,
    ResearchStarted,
    Run,
    SymbolSummary,
    TextDelta,
    Trial,
    TrialEquity,
)

__all__ = ["ApiClient", "ApiError", "API_PREFIX", "iter_sse"]

API_PREFIX = "/api/v1"
M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LONG_TIMEOUT = httpx.Timeout(900.0, connect=5.0)
"""Chat turns and synchronous trials run real walk-forward trials: minutes, not seconds."""


class ApiError(Exception):
    """An API call that failed: ``status`` (0 when no HTTP answer came), the problem's
    ``title`` and ``detail``; ``str(error)`` is the detail, ready to show."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        """The error a non-2xx response describes (a problem body, or its plain text)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            detail = body["detail"]
            return cls(
                int(body.get("status") or response.status_code),
                str(body.get("title") or response.reason_phrase),
                detail if isinstance(detail, str) else json.dumps(detail),
            )
        text = response.text.strip()[:500] or response.reason_phrase
        return cls(response.status_code, response.reason_phrase or "error", text)

    @classmethod
    def of_problem(cls, data: Any) -> ApiError:
        """The error an ``event: error`` of a stream carries (a problem JSON)."""
        if isinstance(data, dict):
            return cls(
                int(data.get("status") or 500),
                str(data.get("title") or "error"),
                str(data.get("detail") or "the stream failed"),
            )
        return cls(500, "error", str(data))


def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` of each Server-Sent Event in ``lines`` (the ``event:`` field,
    ``message`` when absent; ``data:`` lines joined by newlines). Comments are skipped."""
    event = ""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


class ApiClient:
    """The API at ``base_url`` (e.g. ``http://127.0.0.1:8000``) with a bearer ``token``.

    ``transport`` replaces the network (tests pass the app's ASGI/WSGI transport)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _unreachable(self, e: httpx.HTTPError) -> ApiError:
        if isinstance(e, httpx.TimeoutException):
            return ApiError(
                0, "timeout", f"the mlTrainer API at {self.base_url} did not answer in time"
            )
        return ApiError(
            0,
            "unreachable",
            f"the mlTrainer API at {self.base_url} does not answer ({type(e).__name__}); "
            "is `mltrainer up` (or `mltrainer serve`) running?",
        )

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise self._unreachable(e) from None
        if r.status_code >= 400:
            raise ApiError.of(r)
        return r

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        r = self._request(method, path, **kw)
        try:
            return r.json()
        except ValueError:
            raise ApiError(r.status_code, "bad response", f"{path} did not return JSON") from None

    def _get(self, model: type[M], method: str, path: str, **kw: Any) -> M:
        data = self._json(method, path, **kw)
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise ApiError(
                200, "unexpected response", f"{method} {path} returned an unexpected shape: {e}"
            ) from None

    @staticmethod
    def _params(**kw: Any) -> dict[str, Any]:
        return {k: v for k, v in kw.items() if v is not None and v != ""}

    def _stream(self, method: str, path: str, **kw: Any) -> Iterator[tuple[str, Any]]:
        """``(event, parsed data)`` of an SSE response, as each event arrives."""
        headers = {"Accept": "text/event-stream"}
        try:
            with self._http.stream(method, path, headers=headers, timeout=LONG_TIMEOUT, **kw) as r:
                if r.status_code >= 400:
                    r.read()
                    raise ApiError.of(r)
                for event, data in iter_sse(r.iter_lines()):
                    try:
                        parsed = json.loads(data)
                    except ValueError:
                        parsed = data
                    if event == "error":
                        raise ApiError.of_problem(parsed)
                    yield event, parsed
        except httpx.HTTPError as e:
            raise self._unreachable(e) from None

    # -- health and metrics ---------------------------------------------------------------------
    def health(self) -> Health:
        return self._get(Health, "GET", "/health")

    def metrics(self) -> str:
        """Prometheus text of ``GET /metrics``."""
        return self._request("GET", "/metrics").text

    # -- models ---------------------------------------------------------------------------------
    def models(self, family: str | None = None, task: str | None = None) -> Listing[Model]:
        params = self._params(family=family, task=task)
        return self._get(Listing[Model], "GET", "/models", params=params)

    def model(self, model_id: str) -> ModelDetail:
        return self._get(ModelDetail, "GET", f"/models/{model_id}")

    # -- data -----------------------------------------------------------------------------------
    def catalogue(self, kind: str | None = None) -> Listing[CatalogueEntry]:
        return self._get(
            Listing[CatalogueEntry], "GET", "/data/catalogue", params=self._params(kind=kind)
        )

    def symbol(self, symbol: str, source: str = "bundled") -> SymbolSummary:
        return self._get(SymbolSummary, "GET", f"/data/symbols/{symbol}", params={"source": source})

    def upload_data(self, filename: str, content: bytes, symbol: str, vendor: str) -> SymbolSummary:
        """Import a CSV or Parquet export under ``symbol``, declaring its ``vendor``."""
        return self._get(
            SymbolSummary,
            "POST",
            "/data/upload",
            files={"file": (filename, content, "application/octet-stream")},
            data={"symbol": symbol, "vendor": vendor},
            timeout=LONG_TIMEOUT,
        )

    # -- trials ---------------------------------------------------------------------------------
    def trials(
        self,
        *,
        model_id: str | None = None,
        symbol: str | None = None,
        goal_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Listing[Trial]:
        params = self._params(
            model_id=model_id, symbol=symbol, goal_id=goal_id, limit=limit, offset=offset
        )
        return self._get(Listing[Trial], "GET", "/trials", params=params)

    def trial(self, trial_id: str) -> Trial:
        return self._get(Trial, "GET", f"/trials/{trial_id}")

    def create_trial(self, spec: dict[str, Any]) -> Trial:
        """Run one walk-forward trial now (synchronously), e.g.
        ``{"model_id": "ridge", "symbol": "SPX", "max_folds": 3}``."""
        return self._get(Trial, "POST", "/trials", json=spec, timeout=LONG_TIMEOUT)

    def trial_equity(self, trial_id: str) -> TrialEquity:
        """The trial's equity and drawdown against buy-and-hold, bar by bar."""
        return self._get(TrialEquity, "GET", f"/trials/{trial_id}/equity")

    def replay(self, trial_id: str) -> Replay:
        return self._get(Replay, "POST", f"/trials/{trial_id}/replay", timeout=LONG_TIMEOUT)

    # -- goals ----------------------------------------------------------------------------------
    def goal(self) -> Goal | None:
        data = self._json("GET", "/goals/current")
        return None if data is None else Goal.model_validate(data)

    def set_goal(self, text: str) -> Goal:
        return self._get(Goal, "PUT", "/goals/current", json={"text": text})

    def goal_history(self, limit: int = 20) -> Listing[Goal]:
        return self._get(Listing[Goal], "GET", "/goals/history", params={"limit": limit})

    # -- runs and research ----------------------------------------------------------------------
    def runs(self, status: str | None = None, limit: int = 20) -> Listing[Run]:
        params = self._params(status=status, limit=limit)
        return self._get(Listing[Run], "GET", "/runs", params=params)

    def run(self, run_id: str) -> Run:
        return self._get(Run, "GET", f"/runs/{run_id}")

    def control_run(self, run_id: str, verb: str) -> Run:
        """``verb`` is cancel, pause, resume or approve."""
        if verb not in ("cancel", "pause", "resume", "approve"):
            raise ValueError(f"unknown run verb {verb!r}")
        return self._get(Run, "POST", f"/runs/{run_id}/{verb}")

    def run_events(self, run_id: str) -> Iterator[Run]:
        """The run each time it changes (``GET /runs/{id}/events``), until it ends."""
        for event, data in self._stream("GET", f"/runs/{run_id}/events"):
            if event == "end":
                return
            if event == "run":
                yield Run.model_validate(data)

    def start_research(
        self,
        *,
        max_trials: int,
        max_minutes: float,
        symbol: str = "SPX",
        source: str = "bundled",
        goal_id: str | None = None,
        max_folds: int | None = None,
        tune_trials: int | None = None,
        workers: int | None = None,
    ) -> ResearchStarted:
        """Seal the holdout and start a goal-driven search (the active goal by default)."""
        body = self._params(
            max_trials=max_trials,
            max_minutes=max_minutes,
            symbol=symbol,
            source=source,
            goal_id=goal_id,
            max_folds=max_folds,
            tune_trials=tune_trials,
            workers=workers,
        )
        return self._get(ResearchStarted, "POST", "/research", json=body, timeout=LONG_TIMEOUT)

    def research_report(self, run_id: str) -> ResearchReport:
        return self._get(ResearchReport, "GET", f"/research/{run_id}")

    # -- memory and audit -----------------------------------------------------------------------
    def memory_stats(self) -> MemoryStats:
        return self._get(MemoryStats, "GET", "/memory/stats")

    def audit_verify(self) -> AuditVerify:
        return self._get(AuditVerify, "GET", "/audit/verify", timeout=LONG_TIMEOUT)

    def audit_tail(self, n: int = 50, kind: str | None = None) -> Listing[AuditRecord]:
        params = self._params(n=n, kind=kind)
        return self._get(Listing[AuditRecord], "GET", "/audit/tail", params=params)

    # -- chat -----------------------------------------------------------------------------------
    def chat(self, message: str, conversation_id: str | None = None) -> ChatReply:
        body = self._params(message=message, conversation_id=conversation_id)
        return self._get(ChatReply, "POST", "/chat", json=body, timeout=LONG_TIMEOUT)

    def chat_stream(self, message: str, conversation_id: str | None = None) -> Iterator[ChatEvent]:
        """One chat turn as it happens: text deltas, actions, fold progress, then the
        final reply (a failure mid-stream is raised as :class:`ApiError`)."""
        body = self._params(message=message, conversation_id=conversation_id)
        for event, data in self._stream("POST", "/chat/stream", json=body):
            if not isinstance(data, dict):
                continue
            if event == "text":
                yield TextDelta(delta=str(data.get("delta", "")))
            elif event == "action":
                yield ActionEvent.model_validate(data)
            elif event == "progress":
                yield ProgressEvent.model_validate(data)
            elif event == "reply":
                yield ReplyEvent(reply=ChatReply.model_validate(data))

    def conversations(self) -> Listing[Conversation]:
        return self._get(Listing[Conversation], "GET", "/conversations")

    def conversation_messages(self, conversation_id: str) -> Listing[ConversationMessage]:
        return self._get(
            Listing[ConversationMessage], "GET", f"/conversations/{conversation_id}/messages"
        )

    # -- migration ------------------------------------------------------------------------------
    def migrate(
        self, filename: str, content: bytes, *, dry_run: bool = True, skip_bad_lines: bool = False
    ) -> dict[str, Any]:
        """Upload a zip of a legacy ``logs/`` folder; the migration report (a dry run by
        default: nothing is imported)."""
        data = self._json(
            "POST",
            "/migrate",
            params={"dry_run": str(dry_run).lower(), "skip_bad_lines": str(skip_bad_lines).lower()},
            files={"file": (filename, content, "application/zip")},
            timeout=LONG_TIMEOUT,
        )
        if not isinstance(data, dict):
            raise ApiError(200, "unexpected response", "POST /migrate did not return a report")
        return data
