"""Execution delay: a signal from close[t] is filled ``execution_delay`` bars later.

The net returns of a real trial are rebuilt here from the raw closes, the stored positions,
the delay and the costs, without the engine's metric code. Old stored specs (no
``execution_delay`` key) mean delay 0, replay as they were stored, and keep their hash.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mltrainer.agent.tools import derive_tools
from mltrainer.cli import app as cli
from mltrainer.data.bundled import BundledSource
from mltrainer.executor import UnifiedExecutor
from mltrainer.models.registry import build_registry
from mltrainer.trials import TrialResult, TrialSpec, WalkForwardEngine
from mltrainer.trials.report import timing_text
from mltrainer.trials.store import TrialStore

# A spec exactly as the version before execution_delay stored it (TrialStore.create wrote
# ``spec.canonical()``), with the spec_hash and results that version computed for it.
OLD_SPEC = {
    "model_id": "ridge",
    "symbol": "SPX",
    "source": "bundled",
    "start": "2005-01-01",
    "end": "2012-12-31",
    "interval": None,
    "horizon": 10,
    "feature_set": "basic",
    "window": "expanding",
    "window_size": 504,
    "refit_every": 21,
    "purge": None,
    "embargo": 0,
    "position_rule": "sign",
    "threshold": 0.0,
    "vol_target": 0.15,
    "max_leverage": 1.0,
    "commission_bps": 1.0,
    "slippage_bps": 1.0,
    "params": {},
    "seed": 0,
    "max_folds": 3,
}
OLD_HASH = "2edce3fdd89e48e929098dd0544169ea40265dc8b19db0036a60dc987ab6b2fa"
OLD_SHARPE = 1.4679860592883711
OLD_TOTAL_RETURN = 0.03924306592203175
OLD_LAST_EQUITY = ("2012-12-31T00:00:00", 1.0392430659220318, 0.9983200042999603)


@pytest.fixture(scope="module")
def engine_factory():
    registry = build_registry()
    return lambda app: WalkForwardEngine(registry, app.data.fetch)


def test_new_specs_default_to_one_bar_and_stored_specs_without_the_key_to_zero():
    assert TrialSpec(model_id="ridge", symbol="SPX").execution_delay == 1
    assert TrialSpec.from_stored(OLD_SPEC).execution_delay == 0
    with pytest.raises(ValueError, match="execution_delay"):
        TrialSpec(model_id="ridge", symbol="SPX", execution_delay=-1)


def test_an_old_stored_spec_keeps_its_hash_and_canonical_form():
    old = TrialSpec.from_stored(OLD_SPEC)
    assert old.canonical() == OLD_SPEC
    assert old.spec_hash() == OLD_HASH
    new = TrialSpec.model_validate({**OLD_SPEC, "execution_delay": 1})
    assert new.canonical()["execution_delay"] == 1 and new.spec_hash() != OLD_HASH


def test_the_store_round_trips_delay_zero_and_one(app):
    store = TrialStore(app.engine)
    for delay in (0, 1):
        spec = TrialSpec.model_validate({**OLD_SPEC, "execution_delay": delay})
        row = store.get(store.create(spec))
        assert TrialSpec.from_stored(row["spec"]) == spec
        assert row["spec_hash"] == spec.spec_hash()
    assert "execution_delay" not in store.get(store.create(TrialSpec.from_stored(OLD_SPEC)))["spec"]


def test_an_old_stored_result_replays_as_stored(app, engine_factory):
    res = engine_factory(app).run(TrialSpec.from_stored(OLD_SPEC))
    stored = res.model_dump(mode="json")
    del stored["spec"]["execution_delay"]  # as the old version stored it
    del stored["periods_per_year"], stored["frequency"]
    old = TrialResult.model_validate(stored)
    assert old.spec.execution_delay == 0 and old.spec.spec_hash() == OLD_HASH
    replay = engine_factory(app).run(old.spec)
    assert replay.spec_hash == OLD_HASH
    assert replay.metrics["sharpe"] == pytest.approx(OLD_SHARPE, rel=1e-12)
    assert replay.metrics["total_return"] == pytest.approx(OLD_TOTAL_RETURN, rel=1e-12)
    assert replay.equity[-1][0] == OLD_LAST_EQUITY[0]
    np.testing.assert_allclose(replay.equity[-1][1:], OLD_LAST_EQUITY[1:], rtol=1e-12)
    assert replay.metrics == old.metrics
    assert "delay 0" in timing_text(old)


def _rebuild(res: TrialResult, close, delay: int, bps: float):
    """Net and buy-and-hold returns from raw closes and stored positions, by hand."""
    ix = close.index
    px = close.to_numpy()
    net, bh, stamps = [], [], []
    prev = 0.0
    for ts, _pred, pos, _label in res.predictions:
        i = ix.get_loc(np.datetime64(ts))
        cost = abs(pos - prev) * bps / 1e4
        prev = pos
        if i + delay + 1 >= len(px):
            continue  # no complete holding period left in the data
        ret = px[i + delay + 1] / px[i + delay] - 1
        net.append(pos * ret - cost)
        bh.append(ret)
        stamps.append(ix[i + delay + 1].isoformat())
    return np.array(net), np.array(bh), stamps


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_net_returns_rebuilt_from_raw_closes_positions_delay_and_costs(app, engine_factory, delay):
    spec = TrialSpec(
        model_id="ridge",
        symbol="SPX",
        start="2009-01-01",
        end="2012-12-31",
        window_size=252,
        refit_every=42,
        max_folds=3,
        commission_bps=3.0,
        slippage_bps=2.0,
        execution_delay=delay,
    )
    res = engine_factory(app).run(spec)
    close = BundledSource().fetch("SPX", start="2009-01-01", end="2012-12-31").frame["close"]
    net, bh, stamps = _rebuild(res, close, delay, 5.0)
    assert len(net) == len(res.predictions) - delay - 1 == len(res.equity)
    assert [e[0] for e in res.equity] == stamps
    np.testing.assert_allclose([e[1] for e in res.equity], np.cumprod(1 + net), rtol=0, atol=1e-12)
    np.testing.assert_allclose([e[2] for e in res.equity], np.cumprod(1 + bh), rtol=0, atol=1e-12)
    assert res.spec.execution_delay == delay
    assert f"execution_delay {delay}" in timing_text(res) or delay == 0


def test_a_signal_is_not_filled_at_its_own_close_by_default(app, engine_factory):
    spec = TrialSpec(
        model_id="ridge", symbol="SPX", start="2009-01-01", end="2012-12-31", max_folds=2
    )
    now, late = (
        engine_factory(app).run(spec.model_copy(update={"execution_delay": d})) for d in (0, 1)
    )
    assert spec.execution_delay == 1
    assert [p[:3] for p in now.predictions] == [p[:3] for p in late.predictions]
    # The first holding period starts one bar later, so the curve ends one bar earlier.
    assert len(late.equity) == len(now.equity) - 1
    assert late.equity[0][0] == now.equity[1][0]
    assert late.metrics["total_return"] != now.metrics["total_return"]


def test_cli_trial_run_takes_execution_delay_and_reports_it(settings, monkeypatch):
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    args = ["trial", "run", "-m", "ridge", "-s", "SPX", "--start", "2012-01-01", "--end"]
    args += ["2016-12-31", "--window-size", "252", "--refit-every", "63", "--max-folds", "2"]
    out = CliRunner().invoke(cli, [*args, "--execution-delay", "2", "--json", "--no-report"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["execution_delay"] == 2 and body["periods_per_year"] == 252.0
    shown = CliRunner().invoke(cli, ["trial", "show", body["trial_id"], "--json"])
    assert json.loads(shown.stdout)["spec"]["execution_delay"] == 2
    bad = CliRunner().invoke(cli, [*args, "--execution-delay", "-1", "--json"])
    assert bad.exit_code == 2 and "--execution-delay" in bad.output
    assert "Traceback" not in bad.output


def test_agent_tools_expose_execution_delay(app):
    tools = {t.name: t for t in derive_tools(UnifiedExecutor(app))}
    for name in ("train_model", "start_trial", "compare_models"):
        prop = tools[name].parameters["properties"]["execution_delay"]
        assert prop["default"] == 1 and prop["minimum"] == 0
