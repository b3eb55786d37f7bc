"""Honest trial counting for the deflated Sharpe ratio: N, its scope, and its name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mltrainer.agent.offline import OfflinePlanner
from mltrainer.agent.session import open_conversation
from mltrainer.cli import app as cli
from mltrainer.executor import UnifiedExecutor
from mltrainer.models.registry import build_registry
from mltrainer.trials import TrialSpec
from mltrainer.trials import metrics as M

REGISTRY = build_registry()
QUICK = {
    "start": "2013-01-01",
    "end": "2016-12-31",
    "window_size": 252,
    "refit_every": 63,
    "max_folds": 2,
}


@pytest.fixture
def executor(app):
    ex = UnifiedExecutor(app, registry=REGISTRY)
    yield ex
    ex.shutdown()


def _run(ex: UnifiedExecutor, model: str = "ridge", study: str | None = None, **kw):
    spec = TrialSpec(model_id=model, **{"symbol": "SPX", "horizon": 10, **QUICK, **kw})
    return ex.run_trial(spec, study=study)[1]


def _net_returns(result) -> np.ndarray:
    eq = np.array([e[1] for e in result.equity])
    return np.diff(np.concatenate([[1.0], eq])) / np.concatenate([[1.0], eq[:-1]])


def test_every_finished_trial_on_the_same_question_counts(executor):
    first = _run(executor, "ridge")
    second = _run(executor, "lasso")
    third = _run(executor, "ridge", seed=1)
    assert [first.n_trials, second.n_trials, third.n_trials] == [1, 2, 3]
    # The third is deflated over all three, with the variance of the other two Sharpes.
    others = [first.metrics["sharpe_per_period"], second.metrics["sharpe_per_period"]]
    expected = M.deflated_sharpe_ratio(_net_returns(third), 3, others)
    assert third.metrics["dsr"] == pytest.approx(expected, abs=1e-9)
    assert first.metrics["dsr"] == pytest.approx(first.metrics["psr"], abs=1e-12)


def test_another_horizon_or_symbol_is_another_question(executor):
    _run(executor)
    _run(executor, "lasso")
    assert _run(executor, horizon=5).n_trials == 1
    assert _run(executor, symbol="NASDAQ").n_trials == 1
    # An explicit 1d on SPX asks the same question as the source's own interval.
    assert _run(executor, interval="1d").n_trials == 3


def test_failed_trials_are_not_counted(executor):
    _run(executor)
    with pytest.raises(Exception, match="not enough data"):
        _run(executor, window_size=100_000)
    assert _run(executor, "lasso").n_trials == 2


def test_a_named_study_scopes_the_count(executor):
    _run(executor)
    _run(executor, "lasso")
    assert _run(executor, study="momentum-a").n_trials == 1
    assert _run(executor, "lasso", study="momentum-a", horizon=5).n_trials == 2
    assert _run(executor, "ridge", study="momentum-b").n_trials == 1


def test_a_goal_scopes_the_count(executor):
    _run(executor)
    executor.goal_id = "goal_a"
    assert _run(executor).n_trials == 1
    assert _run(executor, symbol="NASDAQ").n_trials == 2
    executor.goal_id = None
    assert _run(executor).n_trials == 3  # the default count sees every SPX/10 trial


def test_tool_results_carry_n_beside_the_dsr(executor):
    one = executor.execute("train_model", {"model_id": "ridge", "symbol": "SPX", **QUICK})
    assert one["data"]["n_trials"] == 1 and one["data"]["dsr_label"] == "PSR (N=1 trial)"
    two = executor.execute("train_model", {"model_id": "lasso", "symbol": "SPX", **QUICK})
    assert two["data"]["n_trials"] == 2 and two["data"]["dsr_label"] == "DSR (N=2 trials)"
    status = executor.execute("trial_status", {"trial_id": two["data"]["trial_id"]})
    assert status["data"]["n_trials"] == 2 and status["data"]["dsr_label"] == "DSR (N=2 trials)"


def test_offline_reply_names_psr_for_one_trial_and_dsr_with_n_after(app):
    conv = open_conversation(app, provider=OfflinePlanner())
    ask = "train ridge on SPX with a 10 day horizon from 2012 to 2016"
    first = conv.send(ask)
    m = first.actions[0].data["metrics"]
    assert f"PSR {m['psr']:.4f} (probabilistic Sharpe ratio; N=1 trial counted)" in first.text
    assert "deflated" not in first.text.lower() and "DSR" not in first.text
    assert first.flags == []
    second = conv.send(ask.replace("ridge", "lasso"))
    m2 = second.actions[0].data["metrics"]
    assert f"DSR {m2['dsr']:.4f} (N=2 trials counted; deflated Sharpe ratio)" in second.text
    assert second.flags == []


def test_cli_table_names_psr_then_dsr_with_n(settings, monkeypatch):
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    runner = CliRunner()
    args = ["trial", "run", "-m", "ridge", "-s", "SPX", "--no-report"]
    args += ["--start", "2013-01-01", "--end", "2016-12-31", "--window-size", "252"]
    args += ["--refit-every", "63", "--max-folds", "2"]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "PSR (N=1 trial)" in first.output and "dsr" not in first.output.lower()
    second = runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert json.loads(second.stdout)["n_trials"] == 2
    third = runner.invoke(cli, args, catch_exceptions=False)
    assert "DSR (N=3 trials)" in third.output


def test_html_report_names_psr_then_dsr_with_n(executor, tmp_path):
    from mltrainer.trials.report import write_report

    first = _run(executor)
    html = write_report(first, "t1", tmp_path)[0].read_text()
    assert "<td>PSR (N=1 trial)</td>" in html and "<td>dsr</td>" not in html
    second = _run(executor, model="lasso")
    html = write_report(second, "t2", tmp_path)[0].read_text()
    assert "<td>DSR (N=2 trials)</td>" in html and "<td>psr</td>" in html
