"""A 100,000-message legacy chat memory imports exactly, once, and is searchable.

The file is chat text, not market data: its lines cycle through ten research sentences
of the kind the earlier versions stored, one second apart, with the legacy topics and
importance on six lines in seven (the seventh has none, so they are computed). One
distinctive message sits in the middle so search has something unique to find.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mltrainer.app import App
from mltrainer.db.tables import LegacyRecordRow, MemoryMessageRow
from mltrainer.memory import UnifiedMemory
from mltrainer.migrate import open_migrator

N = 100_000
UNIQUE = 73_421
SENTENCES = [
    ("user", "Train a random forest on AAPL with a 10 day horizon and show me the Sharpe.",
     ["random forest", "stock:AAPL", "action:train"]),
    ("mltrainer", "The random forest trial on AAPL finished; out of sample the hit rate was 0.54.",
     ["random forest", "stock:AAPL"]),
    ("user", "Compare lightgbm and ridge on MSFT over the last five years.",
     ["lightgbm", "ridge", "stock:MSFT"]),
    ("assistant", "Ridge had the lower drawdown on MSFT, lightgbm the higher return.",
     ["ridge", "lightgbm", "stock:MSFT"]),
    ("user", "What does momentum look like on SPX in the 7-12 day window?",
     ["momentum", "stock:SPX"]),
    ("assistant", "Momentum on SPX was weak in 2015 and strong in 2017.", ["momentum", "stock:SPX"]),
    ("user", "Set stop loss at 1.5% for risk management.", ["stop loss"]),
    ("assistant", "Noted: stop loss 1.5%, applied to the next trial.", ["stop loss"]),
    ("user", "Is KO a good candidate for mean reversion?", ["mean reversion", "stock:KO"]),
    ("assistant", "KO mean-reverts more than GOOG over 20-day windows.",
     ["mean reversion", "stock:KO", "stock:GOOG"]),
]  # fmt: skip
START = datetime(2025, 3, 1, 9, 0, 0)


def _write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(N):
            role, content, topics = SENTENCES[i % len(SENTENCES)]
            if i == UNIQUE:
                content = "Remember: the KO pairs trading idea used a 63 day lookback."
            rec = {
                "id": f"{i:012x}",
                "timestamp": (START + timedelta(seconds=i)).isoformat(timespec="microseconds"),
                "role": role,
                "content": content,
                "importance": round(0.5 + (i % 5) / 10, 1),
                "metadata": {},
            }
            if i % 7:
                rec["topics"] = topics
            fh.write(json.dumps(rec) + "\n")


@pytest.mark.slow
def test_100k_message_memory_imports_exactly_once_and_is_searchable(app: App, tmp_path: Path):
    _write(tmp_path / "logs" / "memory" / "chat_memory.jsonl")
    m = open_migrator(app)
    t0 = time.perf_counter()
    rep = m.run(tmp_path)
    elapsed = time.perf_counter() - t0
    print(f"\n{N:,} legacy messages in {elapsed:.1f} s: {N / elapsed:,.0f} messages/s")
    assert (rep.totals.read, rep.totals.imported, rep.totals.messages) == (N, N, N)
    t = MemoryMessageRow.__table__
    with app.engine.connect() as c:
        roles = dict(c.execute(select(t.c.role, func.count()).group_by(t.c.role)).all())
        assert roles == {"user": N // 2, "assistant": N // 2}
        first, last = c.execute(select(func.min(t.c.ts), func.max(t.c.ts))).one()
        assert first.replace(tzinfo=UTC) == START.replace(tzinfo=UTC)
        assert last.replace(tzinfo=UTC) == (START + timedelta(seconds=N - 1)).replace(tzinfo=UTC)
        computed = c.execute(
            select(t.c.topics, t.c.importance)
            .where(t.c.content == SENTENCES[0][1])
            .order_by(t.c.id)
            .limit(2)
        ).all()
        n_legacy = c.execute(select(func.count()).select_from(LegacyRecordRow.__table__)).scalar()
    assert n_legacy == N
    # line 0 has no legacy topics (computed); line 10 has them (kept as written)
    assert "model:random_forest" in computed[0].topics and "symbol:AAPL" in computed[0].topics
    assert computed[1].topics == ["random forest", "stock:AAPL", "action:train"]
    assert [c.importance for c in computed] == [0.5, 0.5]
    memory = UnifiedMemory(app.engine)
    (best, _score), *_ = memory.search("KO pairs trading lookback", k=3)
    assert best.content.startswith("Remember: the KO pairs trading idea")
    assert best.metadata["legacy_id"] == f"{UNIQUE:012x}"
    again = m.run(tmp_path)
    assert again.already_imported and again.totals.already_present == N
    assert memory.count() == N
    assert app.audit.verify().ok
