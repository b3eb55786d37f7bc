"""The command line: exit codes, --json output, and the commands users run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from mltrainer.cli import app as cli

QUICK = [
    "--start",
    "2012-01-01",
    "--end",
    "2016-12-31",
    "--window-size",
    "252",
    "--refit-every",
    "63",
    "--max-folds",
    "3",
]


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_data_list_json_has_every_bundled_symbol(run):
    rows = _json(run("data", "list", "--json"))
    syms = {r["symbol"] for r in rows}
    assert {"SPX", "AAPL", "GOOG", "EURUSD", "BTCUSD", "FF3", "CPILFESL", "VIX"} <= syms
    spx = next(r for r in rows if r["symbol"] == "SPX")
    assert spx["rows"] == 5031 and spx["first"] == "1999-01-04"
    assert "skfolio" in spx["note"] and "OHLCV" in spx["note"]  # says which source it chose


def test_data_show_reports_provenance_hash(run):
    out = _json(
        run("data", "show", "SPX", "--start", "2008-01-01", "--end", "2008-12-31", "--json")
    )
    assert out["provenance"]["rows"] == 253 and len(out["provenance"]["sha256"]) == 64
    assert out["provenance"]["package"] == "arch"


def test_data_import_then_show(run, tmp_path):
    from mltrainer.data.bundled import BundledSource

    csv = tmp_path / "goog.csv"
    BundledSource().fetch("GOOG", end="2005-12-31").frame.to_csv(csv)
    out = _json(
        run(
            "data",
            "import",
            str(csv),
            "--symbol",
            "MYGOOG",
            "--vendor",
            "test export of GOOG",
            "--json",
        )
    )
    assert out["vendor"] == "test export of GOOG"
    shown = _json(run("data", "show", "MYGOOG", "--source", "file", "--json"))
    assert shown["provenance"]["sha256"] == out["sha256"]


def test_unknown_symbol_is_a_clear_error_with_exit_2(run):
    from mltrainer.cli import main

    with pytest.raises(SystemExit) as e:
        import sys

        sys.argv = ["mltrainer", "data", "show", "APPL"]
        main()
    assert e.value.code == 2


def test_compliance_check_exit_codes(run):
    assert run("compliance", "check", "train a random forest on AAPL").exit_code == 0
    bad = run("compliance", "check", "generate synthetic price data for AAPL", "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["allowed"] is False


def test_audit_verify_detects_an_edited_record(run, settings):
    run("compliance", "check", "use the risk-free rate")
    assert run("audit", "verify").exit_code == 0
    from mltrainer.app import App

    app = App(settings)
    with app.engine.begin() as c:
        c.execute(
            text(
                "UPDATE audit_log SET payload = replace(payload, 'risk-free', 'riskless') WHERE seq = 1"
            )
        )
    out = run("audit", "verify", "--json")
    assert out.exit_code == 1 and json.loads(out.stdout)["first_bad_seq"] == 1
    tail = _json_any(run("audit", "tail", "-n", "2", "--json"))
    assert [r["seq"] for r in tail] == [1]


def _json_any(result):
    return json.loads(result.stdout)


def test_models_list_and_show(run):
    rows = _json(run("models", "list", "--json"))
    assert len(rows) >= 140
    vol = _json(run("models", "list", "--task", "volatility", "--json"))
    assert vol and all(r["task"] == "volatility" for r in vol)
    show = _json(run("models", "show", "lightgbm", "--json"))
    assert show["library"] == "lightgbm" and show["search_space"]


def test_trial_run_list_show_and_replay(run, settings):
    out = _json(
        run(
            "trial",
            "run",
            "--model",
            "ridge",
            "--symbol",
            "SPX",
            "--horizon",
            "10",
            *QUICK,
            "--json",
        )
    )
    tid = out["trial_id"]
    html, js = out["report"]
    assert html.endswith(".html") and js.endswith(".json")
    assert json.loads(Path(js).read_text())["metrics"]["sharpe"] == out["metrics"]["sharpe"]
    assert "plotly" in Path(html).read_text().lower()
    listed = _json(run("trial", "list", "--json"))
    assert listed[0]["id"] == tid and listed[0]["status"] == "done"
    shown = _json(run("trial", "show", tid, "--json"))
    assert shown["result"]["metrics"]["sharpe"] == out["metrics"]["sharpe"]
    replay = _json(run("trial", "replay", tid, "--json"))
    assert replay["identical"] is True and replay["differences"] == {}


def test_financial_run_black_scholes(run):
    out = _json(
        run(
            "financial",
            "run",
            "black_scholes",
            "--spot",
            "100",
            "--strike",
            "100",
            "--rate",
            "0.05",
            "--volatility",
            "0.2",
            "--maturity",
            "1",
            "--json",
        )
    )
    assert out["result"]["price"] == pytest.approx(10.4506, abs=1e-4)


def test_bridge_parse_reads_standard_input(run):
    out = _json(
        run(
            "bridge",
            "parse",
            input='TRIAL_CONFIG = {"symbol": "AAPL", "model": "ridge", // comment\n "horizon": 5}',
        )
    )
    assert out["actions"][0]["params"]["symbol"] == "AAPL"
    assert out["actions"][0]["params"]["model_id"] == "ridge"


def test_goal_set_show_history(run):
    _json(run("goal", "set", "Sharpe above 1.5 and drawdown under 5% over 7-12 days", "--json"))
    shown = _json(run("goal", "show", "--json"))
    assert shown["components"]["constraints"][0]["metric"] == "sharpe"
    assert len(_json(run("goal", "history", "--json"))) == 1


def test_ask_json_returns_reply_actions_and_results(run):
    out = _json(run("ask", "which symbols can I use?", "--json"))
    assert out["actions"][0]["name"] == "list_symbols" and out["actions"][0]["success"]
    assert "SPX" in out["text"]
    stats = _json(run("memory", "stats", "--json"))
    assert stats


def test_ask_through_the_anthropic_sdk_streams_and_runs_tools(run, monkeypatch):
    from llm_servers import ANTHROPIC_TEST_KEY, AnthropicServer, ScriptedToolCall, Turn

    with AnthropicServer() as srv:
        srv.push(
            Turn(text=["Let me ", "look."], tool_calls=[ScriptedToolCall("list_symbols", {})]),
            Turn(text=["Plenty of ", "symbols, SPX among them."]),
        )
        monkeypatch.setenv("MLTRAINER_LLM_PROVIDER", "anthropic")
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_TEST_KEY)
        monkeypatch.setenv("MLTRAINER_ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("MLTRAINER_LLM_TIMEOUT_S", "10")
        out = run("ask", "which symbols can I use?")
    assert out.exit_code == 0, out.output
    assert "Plenty of symbols, SPX among them." in out.stdout
    first, second = srv.requests[0].body, srv.requests[1].body
    assert first["stream"] is True and "mlTrainer" in first["system"]
    assert {t["name"] for t in first["tools"]} >= {"train_model", "list_symbols"}
    results = [
        b
        for m in second["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b.get("type") == "tool_result"
    ]
    assert len(results) == 1 and "SPX" in str(results[0]["content"])
