"""Unified memory: every chat message, tool call and trial result, searchable and ranked.

Messages live in the ``memory_messages`` table. On SQLite, the FTS5 index ``memory_fts``
(kept in sync by triggers, migration 0003) ranks search hits by BM25. Elsewhere, or with
``use_fts=False``, search uses ``LIKE`` (see :meth:`UnifiedMemory.search`).

Search never hands user text to the FTS5 query language: the query is split into words
(``\\w+``, Unicode-aware), each word is quoted as an FTS5 string (``"word"``) and the words
are joined with ``OR``. Quotes, parentheses, ``AND``/``OR``/``NOT``/``NEAR``, ``*``, ``:``
and ``-`` are therefore plain text; a query with no words returns ``[]``.

Topics (set by :meth:`UnifiedMemory.add`):

* ``model:<id>`` for each known registry model id mentioned (``random forest`` and
  ``random-forest`` count for ``random_forest``), and for ``metadata["model_id"]``;
* ``symbol:<SYM>`` for capitalised tokens or cashtags that ``resolve_symbol`` accepts, and
  for ``metadata["symbol"]``;
* ``metric:<key>`` for metric names in the text or in ``metadata["metrics"]`` keys;
* ``action:<name>`` from ``metadata["action"]`` on ``tool_call`` and ``tool_result`` messages;
* key phrases such as ``momentum``, ``mean reversion``, ``volatility``, ``drawdown``
  (strategy vocabulary of :mod:`mltrainer.goals` plus research terms, :data:`KEY_PHRASES`).

Importance in [0, 1] (rounded to 3 decimals) is the role's base plus bonuses, capped at 1:

* base: user 0.5, assistant 0.4, tool_call 0.3, tool_result 0.3, system 0.3;
* +0.3 for a goal change (``metadata["kind"] == "goal"``);
* +0.25 for a trial result (a ``tool_result`` with non-empty ``metadata["metrics"]``);
* +0.2 when compliance flags are present;
* +0.2 for an explicit cue: "remember", "important", "note that", "don't forget",
  "keep in mind";
* +0.1 when the text has a metric name and a number ("the Sharpe was 1.2").
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from typing import cast as cast_type

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, Table, Text, case, cast, func, insert, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError

from .db.tables import MemoryMessageRow
from .errors import MLTrainerError
from .goals import METRIC_KEYS, STRATEGY_TERMS, find_metrics, find_symbols

__all__ = [
    "UnifiedMemory",
    "MemoryMessage",
    "NewMessage",
    "ImportReport",
    "KEY_PHRASES",
    "BASE_IMPORTANCE",
    "estimate_tokens",
    "summarise_trial",
]

log = logging.getLogger(__name__)

Role = Literal["user", "assistant", "tool_call", "tool_result", "system"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

BASE_IMPORTANCE: dict[str, float] = {
    "user": 0.5,
    "assistant": 0.4,
    "tool_call": 0.3,
    "tool_result": 0.3,
    "system": 0.3,
}
GOAL_BONUS = 0.3
TRIAL_RESULT_BONUS = 0.25
COMPLIANCE_BONUS = 0.2
EXPLICIT_BONUS = 0.2
METRIC_NUMBER_BONUS = 0.1

KEY_PHRASES: dict[str, str] = {
    **STRATEGY_TERMS,
    "drawdown": r"draw[\s_-]?downs?",
    "overfitting": r"over[\s_-]?fit(?:ting|ted|s)?",
    "walk-forward": r"walk[\s_-]?forward",
    "backtest": r"back[\s_-]?test(?:s|ing|ed)?",
    "stop loss": r"stop[\s_-]?loss(?:es)?",
    "feature importance": r"feature[\s_-]importances?",
    "transaction costs": r"(?:transaction|trading)[\s_-]costs?|slippage",
    "position sizing": r"position[\s_-]sizing",
}
_PHRASE_RX = [
    (k, re.compile(rf"(?<![A-Za-z])(?:{v})(?![A-Za-z])", re.I)) for k, v in KEY_PHRASES.items()
]
_EXPLICIT = re.compile(
    r"\b(?:remember|important|note\s+that|don'?t\s+forget|keep\s+in\s+mind)\b", re.I
)
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?")
_WORD = re.compile(r"\w+")
_MAX_QUERY_TERMS = 64
_COMMON_FRACTION = 0.3
_DF_TTL_S = 300.0
STOPWORDS = frozenset(  # noqa: SIM905 - a word list reads better as one string
    """a about an and any are as at be been but by can could did do does for from had has have
    how i if in into is it its me my not of on or our so than that the their them then there
    these they this those to us was we were what when where which who why will with would
    you your""".split()
)
"""Words dropped from a search only when the query would otherwise score too many rows."""
_MAX_TOPICS = 32
_CHARS_PER_TOKEN = 4
_LINE_CHARS = 500
_HIST_BUCKETS = ("0.0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", "0.8-1.0")

_T = cast_type(Table, MemoryMessageRow.__table__)


def _phrase(word: str) -> str:
    """An FTS5 string literal: the word in double quotes, inner quotes doubled."""
    return '"' + word.replace('"', '""') + '"'


def estimate_tokens(text: str) -> int:
    """Approximate token count: ``ceil(len(text) / 4)`` (about 4 characters per token)."""
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


class NewMessage(BaseModel):
    """One message to store. ``topics``/``importance`` override extraction (legacy import)."""

    role: Role
    content: str
    goal_id: str | None = None
    conversation_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    compliance_flags: list[str] = Field(default_factory=list)
    ts: datetime | None = None
    topics: list[str] = Field(default_factory=list)
    importance: float | None = Field(default=None, ge=0.0, le=1.0)


class MemoryMessage(BaseModel):
    id: int
    ts: datetime
    role: Role
    content: str
    topics: list[str]
    importance: float
    compliance_flags: list[str] = Field(default_factory=list)
    goal_id: str | None = None
    conversation_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ImportReport(BaseModel):
    imported: int
    skipped: int
    problems: list[str] = Field(default_factory=list)
    """The first few skipped lines, as ``"line N: why"``."""


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _to_message(row: Mapping[Any, Any]) -> MemoryMessage:
    return MemoryMessage(
        id=row["id"],
        ts=_utc(row["ts"]),
        role=row["role"],
        content=row["content"],
        topics=list(row["topics"] or []),
        importance=row["importance"],
        compliance_flags=list(row["compliance_flags"] or []),
        goal_id=row["goal_id"],
        conversation_id=row["conversation_id"],
        metadata=dict(row["metadata"] or {}),
    )


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    return f"{v:.4g}"


def summarise_trial(trial: Mapping[str, Any]) -> str:
    """One line for a trial dict: id, model, symbol, status and its known metrics.

    Accepts ``metrics`` at the top level, under ``"metrics"`` or under
    ``"result"["metrics"]``. Example: ``trial_1 lightgbm SPX (done): sharpe=1.23``.
    """
    tid = trial.get("id") or trial.get("trial_id") or "trial"
    head = " ".join(
        str(x) for x in (tid, trial.get("model_id") or trial.get("model"), trial.get("symbol")) if x
    )
    if trial.get("horizon") is not None:
        head += f" h={trial['horizon']}"
    if trial.get("status"):
        head += f" ({trial['status']})"
    raw = trial.get("result")
    result: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    metrics = trial.get("metrics") or result.get("metrics") or trial
    parts = [f"{k}={_fmt(metrics[k])}" for k in METRIC_KEYS if k in metrics]
    if trial.get("error"):
        parts.append(f"error: {str(trial['error'])[:160]}")
    return f"{head}: {', '.join(parts)}" if parts else head


class UnifiedMemory:
    """Chat, tool and trial memory in the database; see the module docstring for rules.

    ``known_models``: registry model ids to tag (``"lightgbm"``, ``"random_forest"``).
    ``resolve_symbol``: returns the canonical symbol for a token, or None (exceptions
    from it count as None, so ``DataService.resolve_symbol`` can be passed directly).
    ``use_fts``: None = use FTS5 when the ``memory_fts`` table exists (SQLite).
    ``max_scored``: matched rows BM25 may score per search (see :meth:`search`).
    """

    def __init__(
        self,
        engine: Engine,
        known_models: Iterable[str] = (),
        resolve_symbol: Callable[[str], str | None] | None = None,
        *,
        use_fts: bool | None = None,
        max_scored: int = 8_000,
        scrub: Callable[[Any], Any] | None = None,
    ):
        self._engine = engine
        self._scrub = scrub
        """Replaces secret values (e.g. an API key pasted into chat) before a row is stored."""
        models = sorted({m.lower() for m in known_models if m}, key=len, reverse=True)
        self._models = set(models)
        self._model_rx = (
            re.compile(
                r"(?<!\w)(?:"
                + "|".join(re.escape(m).replace("_", r"[\s_-]") for m in models)
                + r")(?!\w)",
                re.I,
            )
            if models
            else None
        )
        self._resolve = (
            functools.lru_cache(maxsize=8192)(resolve_symbol) if resolve_symbol else None
        )
        has_fts = engine.dialect.name == "sqlite" and self._fts_table_exists()
        self._fts = has_fts if use_fts is None else (use_fts and has_fts)
        self._max_scored = max(1, int(max_scored))
        self._df_cache: dict[str, int] = {}
        self._df_n, self._df_time = 0, 0.0

    def _fts_table_exists(self) -> bool:
        with self._engine.connect() as conn:
            return (
                conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='memory_fts'"
                ).first()
                is not None
            )

    @property
    def uses_fts(self) -> bool:
        return self._fts

    # -- topics and importance --------------------------------------------------------
    def extract_topics(self, content: str, role: str, metadata: Mapping[str, Any]) -> list[str]:
        """Topics of one message, in a stable order (models, symbols, metrics, actions, phrases)."""
        topics: list[str] = []

        def add(t: str) -> None:
            if t not in topics:
                topics.append(t)

        if self._model_rx is not None:
            for m in self._model_rx.finditer(content):
                mid = re.sub(r"[\s-]+", "_", m.group(0).lower())
                if mid in self._models:
                    add(f"model:{mid}")
        meta_model = metadata.get("model_id")
        if isinstance(meta_model, str) and meta_model:
            add(f"model:{meta_model}")
        for sym in find_symbols(content, self._resolve):
            add(f"symbol:{sym}")
        meta_symbol = metadata.get("symbol")
        if isinstance(meta_symbol, str) and meta_symbol:
            add(f"symbol:{meta_symbol.upper()}")
        for key in find_metrics(content):
            add(f"metric:{key}")
        metrics = metadata.get("metrics")
        if isinstance(metrics, Mapping):
            for key in find_metrics(" ".join(str(k) for k in metrics)):
                add(f"metric:{key}")
        action = metadata.get("action")
        if role in ("tool_call", "tool_result") and isinstance(action, str) and action:
            add(f"action:{action}")
        for name, rx in _PHRASE_RX:
            if rx.search(content):
                add(name)
        return topics[:_MAX_TOPICS]

    @staticmethod
    def score_importance(
        role: str, content: str, metadata: Mapping[str, Any], compliance_flags: Iterable[str]
    ) -> float:
        """Importance by the documented rules (module docstring)."""
        score = BASE_IMPORTANCE.get(role, 0.3)
        if metadata.get("kind") == "goal":
            score += GOAL_BONUS
        metrics = metadata.get("metrics")
        if role == "tool_result" and isinstance(metrics, Mapping) and metrics:
            score += TRIAL_RESULT_BONUS
        if any(compliance_flags):
            score += COMPLIANCE_BONUS
        if _EXPLICIT.search(content):
            score += EXPLICIT_BONUS
        if _NUMBER.search(content) and find_metrics(content):
            score += METRIC_NUMBER_BONUS
        return round(min(1.0, score), 3)

    def _row(self, msg: NewMessage, extract: bool = True) -> dict[str, Any]:
        meta = json.loads(json.dumps(msg.metadata, default=str))  # JSON-safe copy
        if self._scrub is not None:
            msg = msg.model_copy(update={"content": self._scrub(msg.content)})
            meta = self._scrub(meta)
        topics = self.extract_topics(msg.content, msg.role, meta) if extract else []
        for t in msg.topics:
            if t not in topics:
                topics.append(t)
        importance = msg.importance
        if importance is None:
            importance = self.score_importance(msg.role, msg.content, meta, msg.compliance_flags)
        return {
            "ts": _utc(msg.ts) if msg.ts else datetime.now(UTC),
            "role": msg.role,
            "content": msg.content,
            "topics": topics,
            "importance": float(importance),
            "compliance_flags": [str(f) for f in msg.compliance_flags],
            "goal_id": msg.goal_id,
            "conversation_id": msg.conversation_id,
            "metadata": meta,
        }

    # -- writing ----------------------------------------------------------------------
    def add(
        self,
        role: str,
        content: str,
        *,
        goal_id: str | None = None,
        conversation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        compliance_flags: Iterable[str] = (),
    ) -> MemoryMessage:
        """Store one message with its topics and importance, and return it."""
        try:
            msg = NewMessage(
                role=role,  # type: ignore[arg-type]
                content=content,
                goal_id=goal_id,
                conversation_id=conversation_id,
                metadata=dict(metadata or {}),
                compliance_flags=list(compliance_flags),
            )
        except ValidationError as e:
            raise MLTrainerError(
                f"memory message rejected ({e.errors()[0]['msg']}); role must be one of "
                f"{', '.join(ROLES)} and content a string"
            ) from e
        row = self._row(msg)
        with self._engine.begin() as conn:
            key = conn.execute(insert(_T), row).inserted_primary_key
        if key is None:  # pragma: no cover - every supported dialect reports the id
            raise MLTrainerError("the database did not report the new memory message id")
        return _to_message({**row, "id": key[0]})

    def add_many(
        self, messages: Iterable[NewMessage | Mapping[str, Any]], batch: int = 5000
    ) -> int:
        """Store many messages with executemany in one transaction; return how many."""
        n = 0
        rows: list[dict[str, Any]] = []
        with self._engine.begin() as conn:
            for m in messages:
                msg = m if isinstance(m, NewMessage) else NewMessage.model_validate(m)
                rows.append(self._row(msg))
                if len(rows) >= batch:
                    conn.execute(insert(_T), rows)
                    n, rows = n + len(rows), []
            if rows:
                conn.execute(insert(_T), rows)
                n += len(rows)
        return n

    def add_many_in(
        self,
        conn: Connection,
        messages: Iterable[NewMessage],
        *,
        extract_topics: bool = True,
        batch: int = 5000,
    ) -> list[int]:
        """Store many messages inside the caller's open transaction on ``conn`` and return
        their ids, in order: they commit or roll back with the caller's other writes (the
        legacy import runs in one transaction). Each message keeps its ``ts``, and with
        ``extract_topics=False`` exactly the ``topics`` it carries (topics an earlier
        version computed are not re-derived); a missing ``importance`` is scored as usual.

        How the ids are learnt, fast for 100,000 rows: SQLite returns them (``RETURNING``)
        in no promised order but assigns them in row order (``AUTOINCREMENT``: one more
        than the largest so far), so they are sorted; PostgreSQL takes them from the
        table's sequence first and the rows are inserted with them (a multi-row
        ``RETURNING`` statement costs psycopg a parse per parameter); elsewhere SQLAlchemy
        keeps ``RETURNING`` in row order.
        """
        dialect = conn.dialect.name
        stmt = insert(_T).returning(_T.c.id, sort_by_parameter_order=dialect != "sqlite")
        ids: list[int] = []
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            if dialect == "postgresql":
                got = sorted(
                    conn.execute(
                        sql_text(
                            "SELECT nextval(pg_get_serial_sequence('memory_messages', 'id')) "
                            "FROM generate_series(1, :n)"
                        ),
                        {"n": len(rows)},
                    ).scalars()
                )
                for row, mid in zip(rows, got, strict=True):
                    row["id"] = mid
                conn.execute(insert(_T), rows)
            else:
                got = list(conn.execute(stmt, rows).scalars())
                got = sorted(got) if dialect == "sqlite" else got
            ids.extend(got)

        for m in messages:
            rows.append(self._row(m, extract=extract_topics))
            if len(rows) >= batch:
                flush()
                rows = []
        if rows:
            flush()
        return ids

    def reindex(self) -> None:
        """Rebuild the FTS5 index from ``memory_messages`` (no-op without FTS)."""
        if self._fts:
            with self._engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO memory_fts(memory_fts) VALUES ('rebuild')")

    # -- reading ----------------------------------------------------------------------
    @staticmethod
    def query_terms(query: str) -> list[str]:
        """Distinct lower-case words of ``query`` (at most 64), in order."""
        out: list[str] = []
        if not isinstance(query, str):
            return out
        for w in _WORD.findall(query):
            w = w.lower()
            if w not in out and any(c.isalnum() for c in w):
                out.append(w)
                if len(out) >= _MAX_QUERY_TERMS:
                    break
        return out

    def search(self, query: str, k: int = 10) -> list[tuple[MemoryMessage, float]]:
        """The ``k`` best matches as ``(message, score)``, best first (higher = better).

        With FTS5 the score is ``-bm25`` (FTS5's BM25 over content and topics) of the
        ``OR`` of the query words; ties go to higher importance, then to newer messages.
        Scoring every match costs about 2 µs per matched row, so the work is bounded by
        ``max_scored`` (default 8,000) matched rows, counted with each word's document
        frequency (cached):

        1. all words match at most ``max_scored`` messages in total: exact BM25;
        2. otherwise English stopwords are dropped (:data:`STOPWORDS`), then words found
           in more than 30% of messages (their BM25 weight is near zero) while rarer words
           remain; exact BM25 for the rest if they fit;
        3. otherwise the rarest words (together matching at most ``max_scored / 2``
           messages) are ranked by those words alone over all their matches (a lower
           bound of the full score), and BM25 of all words is computed over the newest
           matching messages for the rest of the budget; the higher score of a message
           wins. Old messages are missed only when they contain none of the rarer words.

        Without FTS5 (``LIKE`` fallback): score = number of distinct query words found
        (case-insensitive substring) in content or topics, among the newest 5,000
        candidate rows; same tie-breaks.
        """
        terms = self.query_terms(query)
        if not terms or k <= 0:
            return []
        k = min(int(k), 1000)
        if self._fts:
            try:
                return self._search_fts(terms, k)
            except OperationalError as e:  # every word is a quoted string; defensive only
                log.warning("memory FTS query failed (%s); falling back to LIKE", e)
        return self._search_like(terms, k)

    def _doc_frequencies(self, conn, terms: list[str]) -> tuple[int, dict[str, int]]:
        n = int(conn.exec_driver_sql("SELECT max(id) FROM memory_messages").scalar() or 0)
        stale = n < self._df_n or n - self._df_n > 0.02 * self._df_n
        if stale or time.monotonic() - self._df_time > _DF_TTL_S:
            self._df_cache, self._df_n, self._df_time = {}, n, time.monotonic()
        out = {}
        for t in terms:
            if t not in self._df_cache:
                if len(self._df_cache) > 10_000:
                    self._df_cache.clear()
                self._df_cache[t] = int(
                    conn.exec_driver_sql(
                        "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?", (_phrase(t),)
                    ).scalar()
                    or 0
                )
            out[t] = self._df_cache[t]
        return n, out

    @staticmethod
    def _fts_rank(conn, words: list[str], limit: int, newest: int | None = None):
        match = " OR ".join(_phrase(t) for t in words)
        where, params = "memory_fts MATCH ?", [match]
        if newest:
            cut = conn.exec_driver_sql(
                "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (match, newest - 1),
            ).scalar()
            if cut is not None:
                where, params = where + " AND rowid >= ?", [match, cut]
        rows = conn.exec_driver_sql(
            f"SELECT rowid, rank FROM memory_fts WHERE {where} ORDER BY rank LIMIT ?",
            (*params, limit),
        ).all()
        return {int(r[0]): -float(r[1]) for r in rows}

    def _search_fts(self, terms: list[str], k: int) -> list[tuple[MemoryMessage, float]]:
        budget, limit = self._max_scored, k + 20  # slack for the importance/recency tie-break
        with self._engine.connect() as conn:
            n, df = self._doc_frequencies(conn, terms)
            words = [t for t in terms if df[t] > 0]
            if not words:
                return []
            for drop in (
                lambda t: t in STOPWORDS,
                lambda t: df[t] > _COMMON_FRACTION * n,
            ):
                if sum(df[t] for t in words) <= budget:
                    break
                words = [t for t in words if not drop(t)] or words
            if sum(df[t] for t in words) <= budget:
                scores = self._fts_rank(conn, words, limit)
            else:
                rare, used = [], 0
                for t in sorted(words, key=df.__getitem__):
                    if used + df[t] > budget // 2:
                        break
                    rare.append(t)
                    used += df[t]
                scores = self._fts_rank(conn, words, limit, newest=budget - used)
                if rare:
                    for rid, s in self._fts_rank(conn, rare, limit).items():
                        scores[rid] = max(s, scores.get(rid, s))
        rows = self._rows_by_id(list(scores))
        ranked = sorted(rows.values(), key=lambda m: (-scores[m.id], -m.importance, -m.id))
        return [(m, scores[m.id]) for m in ranked[:k]]

    def _search_like(self, terms: list[str], k: int) -> list[tuple[MemoryMessage, float]]:
        content, topics = func.lower(_T.c.content), func.lower(cast(_T.c.topics, Text))
        conds = []
        for t in terms:
            pat = "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds += [content.like(pat, escape="\\"), topics.like(pat, escape="\\")]
        q = select(_T).where(or_(*conds)).order_by(_T.c.id.desc()).limit(5000)
        with self._engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        scored = []
        for r in rows:
            hay = (r["content"] + " " + json.dumps(r["topics"] or [])).lower()
            score = float(sum(1 for t in terms if t in hay))
            scored.append((score, r["importance"], r["id"], r))
        best = heapq.nlargest(k, scored, key=lambda x: x[:3])
        return [(_to_message(r), s) for s, _, _, r in best]

    def _rows_by_id(self, ids: list[int]) -> dict[int, MemoryMessage]:
        if not ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(_T).where(_T.c.id.in_(ids))).mappings().all()
        return {r["id"]: _to_message(r) for r in rows}

    def get(self, message_id: int) -> MemoryMessage | None:
        return self._rows_by_id([message_id]).get(message_id)

    def recent(
        self, limit: int = 20, min_importance: float = 0.0, conversation_id: str | None = None
    ) -> list[MemoryMessage]:
        """Newest first, only messages with ``importance >= min_importance``."""
        q = select(_T).where(_T.c.importance >= min_importance)
        if conversation_id is not None:
            q = q.where(_T.c.conversation_id == conversation_id)
        q = q.order_by(_T.c.id.desc()).limit(max(0, int(limit)))
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(q).mappings()]

    def conversations(self, limit: int = 50) -> list[dict[str, Any]]:
        """Conversations with stored messages, most recently active first:
        ``[{"id", "messages", "first_at", "last_at"}]``."""
        q = (
            select(
                _T.c.conversation_id,
                func.count().label("n"),
                func.min(_T.c.ts).label("first"),
                func.max(_T.c.ts).label("last"),
                func.max(_T.c.id).label("newest"),
            )
            .where(_T.c.conversation_id.is_not(None))
            .group_by(_T.c.conversation_id)
            .order_by(func.max(_T.c.id).desc())
            .limit(max(0, int(limit)))
        )
        with self._engine.connect() as conn:
            return [
                {
                    "id": r.conversation_id,
                    "messages": int(r.n),
                    "first_at": _utc(r.first),
                    "last_at": _utc(r.last),
                }
                for r in conn.execute(q)
            ]

    def by_topic(self, topic: str, limit: int = 20) -> list[MemoryMessage]:
        """Messages tagged exactly ``topic`` (e.g. ``"model:lightgbm"``), newest first."""
        needle = json.dumps(topic)
        pat = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        out: list[MemoryMessage] = []
        q = (
            select(_T)
            .where(cast(_T.c.topics, Text).like(pat, escape="\\"))
            .order_by(_T.c.id.desc())
        )
        with self._engine.connect() as conn:
            for r in conn.execute(q).mappings():
                if topic in (r["topics"] or []):
                    out.append(_to_message(r))
                    if len(out) >= limit:
                        break
        return out

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_T)).scalar() or 0)

    def stats(self, top: int = 20) -> dict[str, Any]:
        """``{"total", "by_role", "top_topics": [{"topic", "count"}], "importance_histogram"}``.

        The histogram buckets are 0.2 wide, lower bound inclusive; the last includes 1.0.
        """
        bucket = case(
            (_T.c.importance < 0.2, 0),
            (_T.c.importance < 0.4, 1),
            (_T.c.importance < 0.6, 2),
            (_T.c.importance < 0.8, 3),
            else_=4,
        )
        with self._engine.connect() as conn:
            by_role: dict[str, int] = {
                str(r): int(n)
                for r, n in conn.execute(select(_T.c.role, func.count()).group_by(_T.c.role))
            }
            hist_rows = conn.execute(select(bucket, func.count()).group_by(bucket)).all()
            top_rows: list[tuple[str, int]]
            if self._engine.dialect.name == "sqlite":
                top_rows = [
                    (str(t), int(n))
                    for t, n in conn.exec_driver_sql(
                        "SELECT j.value, count(*) AS n FROM memory_messages, "
                        "json_each(memory_messages.topics) AS j GROUP BY j.value "
                        "ORDER BY n DESC, j.value LIMIT ?",
                        (int(top),),
                    )
                ]
            else:
                counter: Counter[str] = Counter()
                for (topics,) in conn.execute(select(_T.c.topics)):
                    counter.update(topics or [])
                top_rows = sorted(counter.items(), key=lambda x: (-x[1], x[0]))[:top]
        hist = dict.fromkeys(_HIST_BUCKETS, 0)
        for b, n in hist_rows:
            hist[_HIST_BUCKETS[int(b)]] = int(n)
        return {
            "total": sum(by_role.values()),
            "by_role": {r: int(by_role.get(r, 0)) for r in ROLES},
            "top_topics": [{"topic": t, "count": int(n)} for t, n in top_rows],
            "importance_histogram": hist,
        }

    # -- prompt context ---------------------------------------------------------------
    @staticmethod
    def _line(m: MemoryMessage) -> str:
        body = " ".join(m.content.split())
        if len(body) > _LINE_CHARS:
            body = body[: _LINE_CHARS - 1] + "…"
        return f"- [{m.ts:%Y-%m-%d %H:%M} {m.role}] {body}"

    @staticmethod
    def _pack(header: str, lines: list[str], cap: int) -> list[str]:
        """Greedy: keep lines in order while header + lines fit in ``cap`` characters."""
        chosen: list[str] = []
        used = len(header)
        for ln in lines:
            if used + 1 + len(ln) <= cap:
                chosen.append(ln)
                used += 1 + len(ln)
        return chosen

    def build_context(
        self,
        query: str,
        token_budget: int = 1500,
        recent_trials: list[dict[str, Any]] | None = None,
        *,
        k: int = 50,
        min_importance_fallback: float = 0.7,
    ) -> str:
        """Recalled memory and recent trial summaries for a prompt, within ``token_budget``.

        Tokens are estimated as ``len(text) / 4`` (:func:`estimate_tokens`); the result
        never exceeds the budget. Memory lines come in order of search relevance, then
        importance, then recency, followed by recent messages with importance >= 0.7 that
        the search missed; each line is cut at 500 characters. Trial summaries
        (:func:`summarise_trial`, newest first when they carry ``finished_at`` or
        ``created_at``) get up to 40% of the budget while memory lines exist; space left
        by either section goes to the other. Lines that do not fit are skipped whole.
        """
        cap = max(0, int(token_budget)) * _CHARS_PER_TOKEN
        mem_header, trial_header = "Relevant memory:", "Recent trial results:"
        hits = self.search(query, k=k)
        seen = {m.id for m, _ in hits}
        extra = [
            m for m in self.recent(limit=20, min_importance=min_importance_fallback)
            if m.id not in seen
        ]  # fmt: skip
        mem_lines = [self._line(m) for m, _ in hits] + [self._line(m) for m in extra]
        trials = list(recent_trials or [])
        if any(
            isinstance(t, Mapping) and (t.get("finished_at") or t.get("created_at")) for t in trials
        ):
            trials.sort(
                key=lambda t: str(t.get("finished_at") or t.get("created_at") or ""), reverse=True
            )
        trial_lines = [f"- {summarise_trial(t)}" for t in trials if isinstance(t, Mapping)]

        def section(header: str, lines: list[str]) -> str:
            return "\n".join([header, *lines]) if lines else ""

        trial_cap = int(cap * 0.4) if mem_lines else cap
        t_sel = self._pack(trial_header, trial_lines, trial_cap)
        t_len = len(section(trial_header, t_sel))
        m_sel = self._pack(mem_header, mem_lines, cap - (t_len + 2 if t_sel else 0))
        m_len = len(section(mem_header, m_sel))
        t_sel = self._pack(trial_header, trial_lines, cap - (m_len + 2 if m_sel else 0))
        out = "\n\n".join(
            s for s in (section(mem_header, m_sel), section(trial_header, t_sel)) if s
        )
        return out if len(out) <= cap else ""

    # -- legacy -----------------------------------------------------------------------
    def import_legacy_jsonl(self, path: str | Path) -> ImportReport:
        """Import a legacy ``logs/memory/chat_memory.jsonl``.

        Blank lines, truncated or non-JSON lines and lines without text are skipped and
        counted. Role ``mltrainer`` becomes ``assistant``; unknown roles become ``system``.
        Naive timestamps are taken as UTC. Legacy topics and importance are kept (topics
        are merged with freshly extracted ones); the legacy id, ``goal_context`` and the
        marker ``legacy: true`` go into metadata.
        """
        skipped, problems, batch = 0, list[str](), list[NewMessage]()
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict) or not isinstance(rec.get("content"), str):
                        raise ValueError("no text content")
                    batch.append(self._legacy_message(rec))
                except (ValueError, TypeError, ValidationError) as e:
                    skipped += 1
                    if len(problems) < 20:
                        problems.append(f"line {n}: {str(e).splitlines()[0][:120]}")
        imported = self.add_many(batch)
        return ImportReport(imported=imported, skipped=skipped, problems=problems)

    @staticmethod
    def _legacy_message(rec: dict[str, Any]) -> NewMessage:
        role = str(rec.get("role") or "system").lower()
        role = {"mltrainer": "assistant", "tool": "tool_result"}.get(role, role)
        if role not in ROLES:
            role = "system"
        ts_raw = rec.get("timestamp")
        ts = datetime.fromisoformat(ts_raw) if isinstance(ts_raw, str) and ts_raw else None
        meta = dict(rec.get("metadata") or {}) if isinstance(rec.get("metadata"), dict) else {}
        meta.update(legacy=True, legacy_id=rec.get("id"))
        if rec.get("goal_context") is not None:
            meta["goal_context"] = rec["goal_context"]
        topics = [str(t) for t in rec.get("topics") or [] if isinstance(t, str | int)]
        imp = rec.get("importance")
        importance = (
            min(1.0, max(0.0, float(imp)))
            if isinstance(imp, int | float) and not isinstance(imp, bool) and math.isfinite(imp)
            else None
        )
        flags = rec.get("compliance_flags") or []
        return NewMessage(
            role=role,  # type: ignore[arg-type]
            content=rec["content"],
            metadata=meta,
            compliance_flags=[str(f) for f in flags] if isinstance(flags, list) else [],
            ts=ts,
            topics=topics,
            importance=importance,
        )
