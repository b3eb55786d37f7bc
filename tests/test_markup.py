"""User and data text is shown literally: never read as Rich markup, links or escapes.

Each test runs the real entry point (``mltrainer.cli.main``) in-process. Before the fix,
``goal set "... [/bold]"`` stored the goal and then crashed with a MarkupError, and so did
every later ``goal history``.
"""

from __future__ import annotations

import io
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from mltrainer.compliance import ComplianceGateway, Policy
from test_bad_input import _goog_csv, _squash, run_cli


@pytest.fixture
def home(settings, monkeypatch) -> Path:
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    monkeypatch.setenv("MLTRAINER_LLM_PROVIDER", "offline")
    return settings.home


def _ok(argv, capsys) -> str:
    code, out = run_cli(argv, capsys)
    assert code == 0, out
    assert "Traceback" not in out and "MarkupError" not in out, out
    return out


def _memory_rows(home: Path) -> int:
    with sqlite3.connect(home / "mltrainer.db") as c:
        return c.execute("SELECT count(*) FROM memory_messages").fetchone()[0]


def test_goal_text_with_a_closing_tag_is_stored_and_shown_literally(home, capsys):
    text = "momentum on SPX, Sharpe above 1 [/bold]"
    assert "[/bold]" in _squash(_ok(["goal", "set", text], capsys))
    assert "[/bold]" in _squash(_ok(["goal", "history"], capsys))
    assert "[/bold]" in _squash(_ok(["goal", "show"], capsys))


def test_a_link_tag_is_text_not_a_hyperlink(home, capsys):
    out = _ok(["goal", "set", "momentum on SPX [link=file:///etc/passwd]docs[/link]"], capsys)
    out += _ok(["goal", "history"], capsys)
    assert "[link=file:///etc/passwd]" in _squash(out)
    assert "\x1b]8;" not in out  # no OSC 8 hyperlink


def test_ansi_escapes_and_controls_are_stripped(home, capsys):
    out = _ok(
        ["goal", "set", "momentum on SPX \x1b[31mred\x1b[0m\x07 \x1b]8;;http://x\x07y"], capsys
    )
    out += _ok(["goal", "history"], capsys)
    assert "\x1b" not in out and "\x07" not in out
    assert "red" in out


def test_vendor_name_with_markup_is_shown_literally(home, capsys, tmp_path):
    csv = _goog_csv(tmp_path / "goog.csv", rows=30)
    vendor = "[/volume] Bloomberg [bold]export"
    out = _ok(["data", "import", csv, "--symbol", "MYG", "--vendor", vendor], capsys)
    assert _squash(vendor) in _squash(out)
    shown = _ok(["data", "show", "MYG", "--source", "file"], capsys)
    assert _squash(vendor) in _squash(shown)
    listed = _ok(["data", "list", "--kind", "imported"], capsys)
    assert "MYG" in listed


def test_memory_search_with_brackets(home, capsys):
    _ok(["ask", "which symbols can I use? [/]"], capsys)
    out = _ok(["memory", "search", "x [/]"], capsys)
    assert "x [/]" in out or "[/]" in _squash(out)


def test_error_text_with_markup_is_shown_literally(home, capsys, tmp_path):
    missing = tmp_path / "[/volume]" / "prices.csv"
    code, out = run_cli(["data", "import", str(missing), "--symbol", "X", "--vendor", "v"], capsys)
    assert code == 2 and "Traceback" not in out
    assert "[/volume]" in _squash(out)


def test_models_list_shows_unavailable_marker_literally(home, capsys, monkeypatch):
    """``[unavailable]`` was read as a style tag and vanished from the listing. The deep
    models are made unavailable as on a machine without the ``deep`` extra (torch is
    installed here), so the marker is always there to check."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.split(".")[0] == "torch" else real_find_spec(name, *a),
    )
    out = _ok(["models", "list", "--family", "deep"], capsys)
    assert "[unavailable]" in out


def test_chat_echo_of_long_text_is_linear_and_literal(home, capsys, monkeypatch):
    """A 30,000-character line (within the cap) was highlighted in quadratic time."""
    line = ("AAPL [/bold] 1.5 0x1F " * 1400)[:30_000]
    monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\nexit\n"))
    t0 = time.perf_counter()
    out = _ok(["chat"], capsys)
    assert time.perf_counter() - t0 < 10
    assert "[/bold]" in out


def test_chat_line_over_the_cap_is_refused_quickly_and_not_stored(home, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a" * 200_000 + "\nexit\n"))
    t0 = time.perf_counter()
    out = _ok(["chat"], capsys)
    assert time.perf_counter() - t0 < 5
    assert _squash("message is 200,000 bytes") in _squash(out)
    assert "MLTRAINER_MAX_MESSAGE_BYTES" in _squash(out)
    assert _memory_rows(home) == 0


def test_ask_over_the_cap_exits_2_quickly_and_stores_nothing(home, capsys):
    run_cli(["memory", "stats"], capsys)  # create the home first
    before = _memory_rows(home)
    for size in (120_000, 200_000):
        t0 = time.perf_counter()
        code, out = run_cli(["ask", "train on synthetic data " + "a" * size], capsys)
        assert code == 2 and time.perf_counter() - t0 < 5
        assert _squash(f"{size + 24:,} bytes") in _squash(out)
    assert _memory_rows(home) == before


def test_refused_ask_exits_1(home, capsys):
    code, out = run_cli(["ask", "generate synthetic price data for AAPL"], capsys)
    assert code == 1, out
    code, out = run_cli(["ask", "--json", "generate synthetic price data for AAPL"], capsys)
    assert code == 1 and '"refused": true' in out


def test_policy_pattern_with_nested_quantifier_runs_in_linear_time(tmp_path, monkeypatch, capsys):
    policy = tmp_path / "policy.toml"
    policy.write_text("max_text_chars = 300000\n[forbidden]\nnested = '(a+)+$'\n")
    text = "a" * 100_000 + "!"
    gw = ComplianceGateway(Policy.load(policy))
    t0 = time.perf_counter()
    assert gw.check_text(text).allowed
    assert time.perf_counter() - t0 < 1
    monkeypatch.setenv("MLTRAINER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLTRAINER_POLICY_FILE", str(policy))
    monkeypatch.setenv("MLTRAINER_MAX_MESSAGE_BYTES", "200000")
    run_cli(["models", "list", "--task", "pricing"], capsys)  # start-up outside the timing
    t0 = time.perf_counter()
    code, out = run_cli(["compliance", "check", text], capsys)
    assert code == 0, out
    assert time.perf_counter() - t0 < 3  # start-up included; the match itself is linear
    code, out = run_cli(["compliance", "check", text[:-1]], capsys)  # ends in 'a': a match
    assert code == 1 and "nested" in out


def test_built_in_rules_compile_with_re2():
    from mltrainer.compliance import DEFAULT_RULES, compile_rule

    for name, rx in DEFAULT_RULES.items():
        compile_rule(name, rx)
    gw = ComplianceGateway(Policy())
    assert not gw.check_text("generate synthetic price data for AAPL").allowed
    assert gw.check_text("train a random forest on AAPL").allowed


def test_catalogue_kinds_match_the_data_kinds():
    from typing import get_args

    from mltrainer.cli.data import KINDS
    from mltrainer.data.market import Kind

    assert set(KINDS) == {*get_args(Kind), "imported"}
