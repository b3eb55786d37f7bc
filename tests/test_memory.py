"""Unified memory: topics, importance, FTS5 search (safe for any query), context building."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from mltrainer import db
from mltrainer.app import App
from mltrainer.errors import MLTrainerError
from mltrainer.memory import BASE_IMPORTANCE, UnifiedMemory, estimate_tokens

LEGACY_MEMORY = Path("/work/shared/legacy-samples/logs/memory/chat_memory.jsonl")
MODELS = ("lightgbm", "random_forest", "ridge", "xgboost", "garch_t")

NASTY_QUERIES = [
    '"', '""', "'", "(", ")", "()", "((", "AND", "OR", "NOT", "NEAR", "NEAR(a b, 2)",
    "a AND", "OR b", "NOT NOT", "AND OR NOT", "*", "lightgbm*", "^sharpe", ":", "::",
    "content:lightgbm", "topics:model", "-", "-lightgbm", "+", "{content topics}: x",
    'a"b', '"unterminated', "sharpe') OR 1=1 --", "%", "_", "__", "\\", "\x00", "\n\t",
    "日本語のクエリ", "émoji 🚀 test", "ﬁ ligature", "\u0301", "İstanbul", "ÅÄÖ", "$AAPL",
    "NEAR/3", "a:b:c", "[]", "{}", "lightgbm NEAR sharpe", '"lightgbm" AND "sharpe"',
    "\ud800 sharpe", "x" * 10_000, " ".join(["sharpe"] * 3000),
    " ".join(f"w{i}" for i in range(3000)), "random_forest_100", "max-drawdown",
]  # fmt: skip


@pytest.fixture
def memory(app: App) -> UnifiedMemory:
    return UnifiedMemory(app.engine, known_models=MODELS, resolve_symbol=app.data.resolve_symbol)


@pytest.fixture
def like_memory(app: App) -> UnifiedMemory:
    return UnifiedMemory(
        app.engine, known_models=MODELS, resolve_symbol=app.data.resolve_symbol, use_fts=False
    )


def fill(memory: UnifiedMemory) -> dict[str, int]:
    ids = {}
    ids["both"] = memory.add("assistant", "lightgbm on SPX reached a Sharpe of 1.4").id
    ids["sharpe"] = memory.add("assistant", "The Sharpe of the ridge baseline was 0.3").id
    ids["weather"] = memory.add("user", "what is the weather like today").id
    ids["garch"] = memory.add("assistant", "garch_t fits volatility clustering on VIX").id
    ids["lgbm"] = memory.add("user", "try lightgbm with more trees").id
    return ids


# -- schema -------------------------------------------------------------------------------


def test_migration_creates_tables_and_fts_index(app: App, memory: UnifiedMemory):
    names = set(inspect(app.engine).get_table_names())
    assert {"goals", "memory_messages", "memory_fts"} <= names
    assert memory.uses_fts
    assert db.current_revision(app.engine) == db.SCHEMA_HEAD


def test_migration_0003_downgrades_and_upgrades_cleanly(app: App):
    cfg = db._alembic_config(app.engine)
    command.downgrade(cfg, "0002")
    names = set(inspect(app.engine).get_table_names())
    assert not {"goals", "memory_messages", "memory_fts"} & names
    db.upgrade(app.engine)
    assert db.current_revision(app.engine) == db.SCHEMA_HEAD
    assert UnifiedMemory(app.engine).uses_fts


def test_fts_index_follows_updates_and_deletes(app: App, memory: UnifiedMemory):
    m = memory.add("user", "xgboost looks promising")
    with app.engine.begin() as conn:
        conn.execute(
            text("UPDATE memory_messages SET content = 'catboost', topics = '[]' WHERE id = :i"),
            {"i": m.id},
        )
    assert memory.search("xgboost") == []
    assert [x.id for x, _ in memory.search("catboost")] == [m.id]
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM memory_messages WHERE id = :i"), {"i": m.id})
    assert memory.search("catboost") == []


# -- topics and importance ----------------------------------------------------------------


def test_topics_name_models_symbols_metrics_and_phrases(memory: UnifiedMemory):
    m = memory.add(
        "user", "Compare random forest and lightgbm momentum on AAPL; max drawdown and Sharpe?"
    )
    assert m.topics[:3] == ["model:random_forest", "model:lightgbm", "symbol:AAPL"]
    assert {"metric:max_drawdown", "metric:sharpe", "momentum", "drawdown"} <= set(m.topics)


def test_capitalised_words_are_not_symbols(memory: UnifiedMemory):
    m = memory.add("user", "FOR THE record, IT IS fine ON SPX")
    assert [t for t in m.topics if t.startswith("symbol:")] == ["symbol:SPX"]


def test_tool_call_action_topic_comes_from_metadata(memory: UnifiedMemory):
    m = memory.add(
        "tool_call", "train lightgbm", metadata={"action": "train_model", "model_id": "lightgbm"}
    )
    assert "action:train_model" in m.topics and "model:lightgbm" in m.topics
    plain = memory.add("user", "train it", metadata={"action": "train_model"})
    assert not any(t.startswith("action:") for t in plain.topics)


@pytest.mark.parametrize("role", sorted(BASE_IMPORTANCE))
def test_base_importance_by_role(memory: UnifiedMemory, role):
    assert memory.add(role, "hello there").importance == BASE_IMPORTANCE[role]


def test_importance_bonuses(memory: UnifiedMemory):
    base = BASE_IMPORTANCE["user"]
    goal = memory.add("user", "new goal set", metadata={"kind": "goal"})
    assert goal.importance == pytest.approx(base + 0.3)
    flagged = memory.add("user", "use made up prices", compliance_flags=["fake data"])
    assert flagged.importance == pytest.approx(base + 0.2)
    explicit = memory.add("user", "note that the cache was cleared")
    assert explicit.importance == pytest.approx(base + 0.2)
    numbers = memory.add("user", "the Sharpe was 1.2")
    assert numbers.importance == pytest.approx(base + 0.1)
    assert memory.add("user", "Sharpe matters").importance == base  # metric but no number


def test_trial_result_importance(memory: UnifiedMemory):
    res = memory.add(
        "tool_result",
        "trial finished",
        metadata={"action": "train_model", "metrics": {"sharpe": 1.1, "max_drawdown": -0.02}},
    )
    assert res.importance == pytest.approx(BASE_IMPORTANCE["tool_result"] + 0.25)
    assert {"metric:sharpe", "metric:max_drawdown", "action:train_model"} <= set(res.topics)


def test_importance_is_capped_at_one(memory: UnifiedMemory):
    m = memory.add(
        "user",
        "Important: remember the goal, Sharpe above 1.5",
        metadata={"kind": "goal"},
        compliance_flags=["promised returns"],
    )
    assert m.importance == 1.0


def test_unknown_role_is_refused(memory: UnifiedMemory):
    with pytest.raises(MLTrainerError, match="role"):
        memory.add("mltrainer", "hi")


# -- search -------------------------------------------------------------------------------


@pytest.mark.parametrize("mem", ["memory", "like_memory"])
def test_message_with_both_words_ranks_first_and_unrelated_is_absent(request, mem):
    memory = request.getfixturevalue(mem)
    ids = fill(memory)
    hits = memory.search("lightgbm sharpe")
    got = [m.id for m, _ in hits]
    assert got[0] == ids["both"]
    assert set(got) == {ids["both"], ids["sharpe"], ids["lgbm"]}
    assert ids["weather"] not in got
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]


@pytest.mark.parametrize("mem", ["memory", "like_memory"])
def test_nasty_queries_never_raise(request, mem):
    memory = request.getfixturevalue(mem)
    fill(memory)
    for q in NASTY_QUERIES:
        hits = memory.search(q, k=5)
        assert isinstance(hits, list), q
        assert len(hits) <= 5


@pytest.mark.parametrize("q", ["", "   ", "()*:-\"'", "!!!", "___", "\x00"])
def test_queries_without_words_return_nothing(memory: UnifiedMemory, q):
    fill(memory)
    assert memory.search(q) == []


def test_query_operators_are_plain_words(memory: UnifiedMemory):
    keep = memory.add("user", "NEAR the close, NOT a breakout")
    assert [m.id for m, _ in memory.search("NOT")] == [keep.id]
    assert [m.id for m, _ in memory.search("near*")] == [keep.id]


def test_ties_prefer_importance_then_newest(memory: UnifiedMemory):
    low = memory.add("assistant", "hmm_2state regime")
    high = memory.add("user", "hmm_2state regime")
    newer = memory.add("user", "hmm_2state regime")
    assert [m.id for m, _ in memory.search("hmm_2state")] == [newer.id, high.id, low.id]


def test_unicode_words_are_searchable(memory: UnifiedMemory):
    m = memory.add("user", "Überprüfung der Volatilität 日本語")
    assert [x.id for x, _ in memory.search("volatilität")] == [m.id]
    assert [x.id for x, _ in memory.search("日本語")] == [m.id]


def test_search_beyond_the_scoring_budget_still_finds_rare_old_messages(app: App):
    # "momentum" is in 9 of 31 messages (under 30%, so not dropped as too common) and the
    # two words match 10 > max_scored rows: only the newest momentum rows are scored, plus
    # every match of the rare word.
    memory = UnifiedMemory(app.engine, known_models=MODELS, max_scored=6)
    rare = memory.add("assistant", "catboost momentum on SPX had Sharpe 0.9")
    runs = [memory.add("assistant", f"momentum run {i}").id for i in range(8)]
    memory.add_many({"role": "user", "content": f"unrelated chat {i}"} for i in range(22))
    hits = memory.search("catboost momentum", k=3)
    assert hits[0][0].id == rare.id
    assert [m.id for m, _ in hits[1:]] == runs[-1:-3:-1]  # equal scores: newest first
    # the documented limit: a lone common word only ranks its newest max_scored matches
    only_common = [m.id for m, _ in memory.search("momentum", k=20)]
    assert len(only_common) == 6 and rare.id not in only_common


# -- recent, topics, stats ----------------------------------------------------------------


def test_recent_is_newest_first_and_filters_importance(memory: UnifiedMemory):
    ids = fill(memory)
    assert [m.id for m in memory.recent(limit=2)] == [ids["lgbm"], ids["garch"]]
    important = memory.add("user", "remember: SPX data ends in 2018")
    assert [m.id for m in memory.recent(min_importance=0.7)] == [important.id]


def test_by_topic_matches_exact_topics(memory: UnifiedMemory):
    ids = fill(memory)
    assert [m.id for m in memory.by_topic("model:lightgbm")] == [ids["lgbm"], ids["both"]]
    assert [m.id for m in memory.by_topic("symbol:VIX")] == [ids["garch"]]
    assert memory.by_topic("model:light") == []


def test_stats_counts_roles_topics_and_importance(memory: UnifiedMemory):
    fill(memory)
    memory.add("tool_call", "run", metadata={"action": "train_model"})
    s = memory.stats()
    assert s["total"] == 6
    assert s["by_role"] == {
        "user": 2, "assistant": 3, "tool_call": 1, "tool_result": 0, "system": 0
    }  # fmt: skip
    top = {t["topic"]: t["count"] for t in s["top_topics"]}
    assert top["model:lightgbm"] == 2 and top["metric:sharpe"] == 2
    assert sum(s["importance_histogram"].values()) == 6
    assert s["importance_histogram"]["0.2-0.4"] == 1  # the tool call


# -- context ------------------------------------------------------------------------------

TRIALS = [
    {"id": "trial_a", "model_id": "ridge", "symbol": "SPX", "status": "done",
     "created_at": "2025-01-01T00:00:00", "metrics": {"sharpe": 0.4, "hit_rate": 0.51}},
    {"id": "trial_b", "model_id": "lightgbm", "symbol": "SPX", "status": "done",
     "created_at": "2025-01-02T00:00:00", "result": {"metrics": {"sharpe": 1.3}}},
]  # fmt: skip


@pytest.mark.parametrize("budget", [0, 1, 5, 12, 20, 40, 80, 200, 1500])
def test_build_context_never_exceeds_the_budget(memory: UnifiedMemory, budget):
    fill(memory)
    for i in range(30):
        memory.add("assistant", f"lightgbm sharpe note {i} " + "detail " * 40)
    ctx = memory.build_context("lightgbm sharpe", token_budget=budget, recent_trials=TRIALS)
    assert estimate_tokens(ctx) <= budget
    assert len(ctx) <= budget * 4


def test_build_context_puts_relevance_first_and_includes_trials(memory: UnifiedMemory):
    fill(memory)
    ctx = memory.build_context("lightgbm sharpe", token_budget=1500, recent_trials=TRIALS)
    lines = ctx.splitlines()
    assert lines[0] == "Relevant memory:"
    assert "lightgbm on SPX reached a Sharpe of 1.4" in lines[1]
    assert "weather" not in ctx
    trial_lines = lines[lines.index("Recent trial results:") + 1 :]
    assert trial_lines[0].startswith("- trial_b lightgbm SPX (done): sharpe=1.3")  # newest first
    assert "hit_rate=0.51" in trial_lines[1]


def test_build_context_with_empty_memory(memory: UnifiedMemory):
    assert memory.build_context("anything") == ""
    ctx = memory.build_context("anything", recent_trials=TRIALS)
    assert ctx.startswith("Recent trial results:")


# -- legacy import ------------------------------------------------------------------------


def test_import_legacy_sample(memory: UnifiedMemory):
    report = memory.import_legacy_jsonl(LEGACY_MEMORY)
    assert report.imported == 4 and report.skipped == 0
    msgs = memory.recent()
    assert {m.role for m in msgs} == {"user", "assistant"}
    assert all(m.metadata["legacy"] for m in msgs)
    assert {m.importance for m in msgs} == {0.6, 0.5}


def test_import_legacy_tolerates_blank_and_truncated_lines(memory: UnifiedMemory, tmp_path):
    good = {"id": "a1", "timestamp": "2025-07-09 07:51:48.530501", "role": "mltrainer",
            "content": "random forest on AAPL", "topics": ["stock:AAPL"], "importance": 0.7}  # fmt: skip
    path = tmp_path / "chat_memory.jsonl"
    path.write_text(json.dumps(good) + "\n\n   \n" + '{"id": "b2", "role": "user", "cont')
    report = memory.import_legacy_jsonl(path)
    assert report.imported == 1 and report.skipped == 1
    assert report.problems and report.problems[0].startswith("line 4")
    (m,) = memory.recent()
    assert m.role == "assistant" and m.ts.year == 2025
    assert "stock:AAPL" in m.topics and "model:random_forest" in m.topics
