"""Benchmark: UnifiedMemory (SQLite + FTS5) against the legacy JSON Lines memory.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--n 100000] [--queries 200]
[--adds 500] [--old-queries 50]`` (the old design scans the whole file per query, about 3 s
at 100k messages, so it gets the first 50 of the same queries by default).

Both designs hold the same N research-chat messages. The messages are sentences assembled
deterministically from vocabulary lists (real registry model ids, bundled symbols, metric
names) with numbers picked by a seeded RNG: they stand for chat text, not market data.

* new: ``UnifiedMemory.search`` (FTS5 BM25, quoted OR query) and ``UnifiedMemory.add``
  (topic extraction + one INSERT transaction, FTS trigger included) in a WAL SQLite file
  created by ``App`` (migrations applied).
* old: the predecessor's ``logs/memory/chat_memory.jsonl``. Search reads the file,
  ``json.loads`` every line, scores by term overlap (distinct query words present in the
  content words or topics) and keeps the top k; add appends one JSON line (the cheapest
  possible old add: the predecessor also rewrote ``topic_index.json``, not timed here).

Prints p50/p95 latencies, the ratios new/old, and whether search p95 < 20 ms.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mltrainer.app import App
from mltrainer.data.bundled import BUNDLED
from mltrainer.memory import NewMessage, UnifiedMemory
from mltrainer.settings import Settings

TARGET_P95_MS = 20.0
_FALLBACK_MODELS = [
    "ridge", "lasso", "random_forest", "extra_trees", "gradient_boosting", "lightgbm",
    "xgboost", "catboost", "arima_1_0_1", "garch_t", "egarch_normal", "hmm_2state",
    "ma_crossover_20_50", "tsmom_63", "rsi_reversion_14", "lstm_regressor", "gru_classifier",
]  # fmt: skip
SYMBOLS = [s for s in BUNDLED if not s.startswith("US_")]
STRATEGIES = [
    "momentum", "mean reversion", "trend following", "breakout", "volatility targeting",
    "regime switching", "carry trade", "pairs trading",
]  # fmt: skip
METRICS = ["Sharpe", "Sortino", "Calmar", "max drawdown", "CAGR", "volatility", "hit rate", "IC"]
TEMPLATES_USER = [
    "Train {model} on {sym} with a {h}-day horizon and compare it with {model2}.",
    "Set goal: {strategy} models for {a}-{b} day horizons, Sharpe above {x:.1f}, drawdown under {y}%",
    "Why did {model} underperform on {sym}? The {metric} looked weak at {v:.2f}.",
    "Remember that {sym} {strategy} signals degrade after {h} days.",
    "Can you run {strategy} on {sym} and {sym2} over {a} to {b} days?",
    "Is {metric} a better target than {metric2} for {model}?",
]
TEMPLATES_ASSISTANT = [
    "On {sym}, {model} reached Sharpe {x:.2f} with max drawdown {y:.1f}% over {h} days.",
    "The {strategy} strategy on {sym} looks overfit: IC {v:.3f} in-sample versus {w:.3f} out.",
    "I suggest trying {model2} next; {model} had hit rate {v:.2f} and turnover {w:.2f}.",
    "Walk-forward on {sym}: CAGR {x:.1f}%, volatility {y:.1f}%, Sortino {v:.2f} for {model}.",
    "Note that {sym} data ends earlier than {sym2}; the {strategy} comparison uses the overlap.",
]


def model_ids() -> list[str]:
    """Registry ids when the registry builds here, otherwise a fixed list of real ids."""
    try:
        from mltrainer.models.registry import build_registry

        ids = build_registry().ids()
        return ids or _FALLBACK_MODELS
    except Exception:  # noqa: BLE001 - the benchmark must run while the registry evolves
        return _FALLBACK_MODELS


def messages(n: int, models: list[str], seed: int = 7) -> Iterator[NewMessage]:
    """N deterministic chat messages cycling through the four roles used in research chat."""
    rng = random.Random(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n):
        a = rng.choice([3, 5, 7, 10, 20, 50])
        words = {
            "model": rng.choice(models),
            "model2": rng.choice(models),
            "sym": rng.choice(SYMBOLS),
            "sym2": rng.choice(SYMBOLS),
            "strategy": rng.choice(STRATEGIES),
            "metric": rng.choice(METRICS),
            "metric2": rng.choice(METRICS),
            "h": rng.choice([1, 5, 10, 21, 63]),
            "a": a,
            "b": a + rng.choice([5, 10, 20]),
            "x": rng.uniform(0.2, 2.5),
            "y": rng.uniform(2.0, 25.0),
            "v": rng.uniform(-0.1, 0.9),
            "w": rng.uniform(-0.1, 0.9),
        }
        kind = i % 4
        ts = t0 + timedelta(seconds=30 * i)
        if kind == 0:
            yield NewMessage(role="user", content=rng.choice(TEMPLATES_USER).format(**words), ts=ts)
        elif kind == 1:
            text = rng.choice(TEMPLATES_ASSISTANT).format(**words)
            yield NewMessage(role="assistant", content=text, ts=ts)
        elif kind == 2:
            yield NewMessage(
                role="tool_call",
                content=f"train_model model_id={words['model']} symbol={words['sym']} "
                f"horizon={words['h']}",
                metadata={"action": "train_model", "model_id": words["model"]},
                ts=ts,
            )
        else:
            sharpe, dd = round(words["x"] - 0.8, 3), round(-words["y"] / 100, 4)
            yield NewMessage(
                role="tool_result",
                content=f"trial {i:06d} done: {words['model']} on {words['sym']} "
                f"sharpe={sharpe} max_drawdown={dd}",
                metadata={
                    "action": "train_model",
                    "model_id": words["model"],
                    "symbol": words["sym"],
                    "metrics": {"sharpe": sharpe, "max_drawdown": dd},
                },
                ts=ts,
            )


def queries(n: int, models: list[str], seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    forms = [
        "{model} sharpe",
        "{sym} drawdown",
        "{strategy} {sym}",
        "what was the best {model} result on {sym}?",
        "{metric} for {model}",
        '"{model}" AND ({sym} OR NEAR) -{strategy}*',
    ]
    out = []
    for _ in range(n):
        out.append(
            rng.choice(forms).format(
                model=rng.choice(models),
                sym=rng.choice(SYMBOLS),
                strategy=rng.choice(STRATEGIES),
                metric=rng.choice(METRICS),
            )
        )
    return out


# -- the old design --------------------------------------------------------------------
_WORDS = re.compile(r"\w+")


def old_search(path: Path, query: str, k: int = 10) -> list[tuple[int, dict]]:
    """Legacy memory search: read every JSON line and score by term overlap."""
    terms = {w.lower() for w in _WORDS.findall(query)}
    if not terms:
        return []
    scored: list[tuple[int, int, dict]] = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            rec = json.loads(line)
            words = {w.lower() for w in _WORDS.findall(rec["content"])}
            for t in rec.get("topics", []):
                words.update(w.lower() for w in _WORDS.findall(t))
            score = len(terms & words)
            if score:
                scored.append((score, i, rec))
    return [(s, r) for s, _, r in heapq.nlargest(k, scored, key=lambda x: x[:2])]


def old_add(path: Path, rec: dict) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")


# -- timing ----------------------------------------------------------------------------
def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="messages to store")
    ap.add_argument("--queries", type=int, default=200, help="search queries (new design)")
    ap.add_argument(
        "--old-queries",
        type=int,
        default=50,
        help="search queries for the old design (the first of the same list; ~3 s each at 100k)",
    )
    ap.add_argument("--adds", type=int, default=500, help="single adds to time")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the temporary home folder")
    args = ap.parse_args(argv)

    models = model_ids()
    tmp = Path(tempfile.mkdtemp(prefix="mlt-bench-"))
    app = App(Settings(home=tmp, polygon_api_key=None, fred_api_key=None))
    resolve = lambda t: BUNDLED[t.upper()].symbol if t.upper() in BUNDLED else None  # noqa: E731
    memory = UnifiedMemory(app.engine, known_models=models, resolve_symbol=resolve)
    print(f"home {tmp}; {len(models)} model ids; FTS5: {memory.uses_fts}")

    t = time.perf_counter()
    batch = list(messages(args.n, models))
    stored = memory.add_many(batch)
    new_load = time.perf_counter() - t
    print(f"new: stored {stored:,} messages in {new_load:.1f} s (topics + executemany + FTS)")

    jsonl = tmp / "chat_memory.jsonl"
    t = time.perf_counter()
    with jsonl.open("w", encoding="utf-8") as fh:
        for m in memory.recent(limit=args.n):  # same messages, same topics
            rec = {
                "id": str(m.id),
                "timestamp": m.ts.isoformat(),
                "role": m.role,
                "content": m.content,
                "topics": m.topics,
                "importance": m.importance,
                "metadata": m.metadata,
            }
            fh.write(json.dumps(rec) + "\n")
    print(f"old: wrote {jsonl.stat().st_size / 1e6:.1f} MB of JSON Lines in "
          f"{time.perf_counter() - t:.1f} s")  # fmt: skip

    qs = queries(args.queries, models)
    memory.search(qs[0], k=args.k)  # warm the page cache
    new_search = [timed(lambda q=q: memory.search(q, k=args.k)) for q in qs]
    hits = sum(1 for q in qs[:20] if memory.search(q, k=args.k))
    old_qs = qs[: args.old_queries]
    old_search_ms = [timed(lambda q=q: old_search(jsonl, q, args.k)) for q in old_qs]

    add_msgs = list(messages(args.adds, models, seed=99))
    new_add = [
        timed(
            lambda m=m: memory.add(
                m.role, m.content, metadata=m.metadata, compliance_flags=m.compliance_flags
            )
        )
        for m in add_msgs
    ]
    old_add_ms = [
        timed(lambda m=m: old_add(jsonl, {"role": m.role, "content": m.content, "topics": []}))
        for m in add_msgs
    ]
    ctx_ms = [timed(lambda q=q: memory.build_context(q, 1500)) for q in qs[:50]]

    rows = [
        ("search", new_search, old_search_ms),
        ("add", new_add, old_add_ms),
    ]
    print()
    print(f"{'operation':<16}{'new p50':>10}{'new p95':>10}{'old p50':>10}{'old p95':>10}"
          f"{'p50 new/old':>13}{'p95 new/old':>13}")  # fmt: skip
    for name, new, old in rows:
        n50, n95, o50, o95 = pct(new, 50), pct(new, 95), pct(old, 50), pct(old, 95)
        print(f"{name:<16}{n50:>9.2f}m{n95:>9.2f}m{o50:>9.2f}m{o95:>9.2f}m"
              f"{n50 / o50:>13.4f}{n95 / o95:>13.4f}")  # fmt: skip
    print(f"{'build_context':<16}{pct(ctx_ms, 50):>9.2f}m{pct(ctx_ms, 95):>9.2f}m"
          f"{'-':>10}{'-':>10}")  # fmt: skip
    print("(m = milliseconds; ratio < 1 means the new design is faster)")
    print(
        f"samples: new search {len(new_search)}, old search {len(old_search_ms)}, adds "
        f"{len(new_add)}, build_context {len(ctx_ms)}; {hits}/20 sampled queries had hits; "
        f"mean new search {statistics.fmean(new_search):.2f} ms"
    )
    p95 = pct(new_search, 95)
    verdict = "MET" if p95 < TARGET_P95_MS else "NOT MET"
    print(f"target search p95 < {TARGET_P95_MS:.0f} ms at n={args.n:,}: {verdict} ({p95:.2f} ms)")
    app.close()
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
