"""Every example of issue 10, and the phrasings it lists, planned as the exact tool call.

The planner here is the one a chat without an API key gets (registry models, the bundled
catalogue, the executor's tool schemas), built without an App so each case is a pure
function of the sentence.
"""

from __future__ import annotations

from typing import Any

import pytest

from mltrainer.agent.offline import OfflinePlanner
from mltrainer.agent.planner import Planner, bundled_planner
from mltrainer.executor import actions as A

SCHEMAS = {
    "train_model": A.TrainModelParams,
    "start_trial": A.TrainModelParams,
    "compare_models": A.CompareModelsParams,
    "run_financial": A.RunFinancialParams,
    "list_models": A.ListModelsParams,
    "list_symbols": A.ListSymbolsParams,
    "trial_status": A.TrialStatusParams,
    "data_summary": A.DataSummaryParams,
    "run_status": A.RunStatusParams,
    "start_research": A.StartResearchParams,
    "cancel_run": A.CancelRunParams,
}


@pytest.fixture(scope="module")
def planner() -> Planner:
    return bundled_planner(SCHEMAS)


@pytest.fixture
def offline(planner: Planner) -> OfflinePlanner:
    return OfflinePlanner(bridge=planner.bridge, planner=planner)


def _plan(offline: OfflinePlanner, text: str) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in offline.plan(text)]


def _fin(model_id: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return ("run_financial", {"model_id": model_id, "params": params})


# -- the sentences the issue says got "I didn't understand" -----------------------------------
ISSUE_EXAMPLES = [
    (
        "backtest a 20/100 moving average crossover on KO",
        [
            (
                "train_model",
                {
                    "model_id": "ma_crossover_20_50",
                    "symbol": "KO",
                    "params": {"fast": 20, "slow": 100},
                },
            )
        ],
    ),
    (
        "How does lasso do on MSFT between 2008 and 2014?",
        [
            (
                "train_model",
                {"model_id": "lasso", "symbol": "MSFT", "start": "2008-01-01", "end": "2014-12-31"},
            )
        ],
    ),
    ("what do you have on interest rates?", [("list_symbols", {})]),
    (
        "are XOM and CVX cointegrated?",
        [_fin("cointegration_engle_granger", symbol_y="XOM", symbol_x="CVX")],
    ),
    (
        "my target is drawdown under 10% and Sharpe over 0.8 on GOOG, 5 to 15 days",
        [("set_goal", {"text": "drawdown under 10% and Sharpe over 0.8 on GOOG, 5 to 15 days"})],
    ),
    ("anything we learned about catboost?", [("search_memory", {"query": "catboost", "k": 5})]),
    ("what's MSFT's beta to the market?", [_fin("capm", symbol="MSFT")]),
    ("regress PG on the Fama-French factors", [_fin("fama_french_3", symbol="PG")]),
]


@pytest.mark.parametrize(("text", "expected"), ISSUE_EXAMPLES, ids=[t for t, _ in ISSUE_EXAMPLES])
def test_issue_example_is_planned_as_the_exact_call(offline, text, expected):
    assert _plan(offline, text) == expected


# -- the phrasings the issue lists --------------------------------------------------------------
def _train(model_id: str, symbol: str, **extra: Any) -> list[tuple[str, dict[str, Any]]]:
    return [("train_model", {"model_id": model_id, "symbol": symbol, **extra})]


PHRASINGS = [
    # models by common names and abbreviations
    ("train a GBM on KO", _train("gradient_boosting", "KO")),
    ("train a random forest on KO", _train("random_forest", "KO")),
    ("train an RF on KO", _train("random_forest", "KO")),
    ("train LGBM on KO", _train("lightgbm", "KO")),
    ("train an xgb classifier on KO", _train("xgboost_classifier", "KO")),
    ("backtest a moving average crossover 50/200 on KO", _train("ma_crossover_50_200", "KO")),
    ("fit GARCH(1,1) to KO", _train("garch_normal", "KO")),
    ("fit HMM regimes to KO", _train("hmm_2state", "KO")),
    ("backtest momentum on KO", _train("tsmom_252", "KO")),
    # symbols and catalogue aliases
    ("train ridge on the S&P 500", _train("ridge", "SPX")),
    ("train ridge on Apple", _train("ridge", "AAPL")),
    ("train ridge on oil", _train("ridge", "DCOILWTICO")),
    ("train ridge on the dollar-euro rate", _train("ridge", "EURUSD")),
    # horizons
    ("train ridge on KO with a 10-day horizon", _train("ridge", "KO", horizon=10)),
    ("train ridge on KO two weeks ahead", _train("ridge", "KO", horizon=10)),
    ("train ridge on KO a month ahead", _train("ridge", "KO", horizon=21)),
    ("train ridge on KO to predict direction", _train("ridge_classifier", "KO")),
    # date ranges
    ("train ridge on KO 2010-2020", _train("ridge", "KO", start="2010-01-01", end="2020-12-31")),
    ("train ridge on KO since 2015", _train("ridge", "KO", start="2015-01-01")),
    (
        "train ridge on KO between 2008 and 2014",
        _train("ridge", "KO", start="2008-01-01", end="2014-12-31"),
    ),
    # costs and position rules when stated
    (
        "train ridge on KO with 5 bps commission and 2 bps slippage",
        _train("ridge", "KO", commission_bps=5.0, slippage_bps=2.0),
    ),
    ("train ridge on KO long only", _train("ridge", "KO", position_rule="long_only")),
    # comparisons, goals, memory
    (
        "which is better on JNJ, ridge or lasso?",
        [("compare_models", {"model_ids": ["ridge", "lasso"], "symbol": "JNJ"})],
    ),
    ("how close are we?", [("evaluate_goal", {})]),
    ("has anything met the goal?", [("evaluate_goal", {})]),
    ("what do we know about momentum?", [("search_memory", {"query": "momentum", "k": 5})]),
    (
        "remind me what we found on lightgbm",
        [("search_memory", {"query": "lightgbm", "k": 5})],
    ),
    # listing
    ("what models do you have for volatility?", [("list_models", {"task": "volatility"})]),
    ("which symbols can I use?", [("list_symbols", {})]),
    # financial models
    (
        "price a put with spot 100, strike 95, vol 20%, rate 3%, 6 months",
        [
            _fin(
                "black_scholes",
                option_type="put",
                spot=100.0,
                strike=95.0,
                volatility=0.2,
                rate=0.03,
                maturity=0.5,
            )
        ],
    ),
    (
        "what's the 99% VaR of SPX over 10 days?",
        [_fin("var_historical", symbol="SPX", confidence=0.99, horizon_bars=10)],
    ),
    (
        "optimize a max-sharpe portfolio of AAPL, MSFT, JNJ and KO",
        [_fin("portfolio_mean_variance", symbols=["AAPL", "MSFT", "JNJ", "KO"])],
    ),
    ("half kelly on SPX", [_fin("kelly_fraction", symbol="SPX", fraction=0.5)]),
    (
        "stress test 60% SPX 40% AAPL in the 2008 crisis",
        [_fin("stress_test_historical", scenario="gfc_2008", weights={"SPX": 0.6, "AAPL": 0.4})],
    ),
    ("worst drawdowns of NASDAQ", [_fin("drawdown_analytics", symbol="NASDAQ")]),
    # background research
    (
        "search for models that meet the goal in the background on SPX, 2 trials, 2 folds",
        [("start_research", {"symbol": "SPX", "max_trials": 2, "max_folds": 2})],
    ),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_listed_phrasing_is_planned_as_the_exact_call(offline, text, expected):
    assert _plan(offline, text) == expected


# -- questions instead of guesses ---------------------------------------------------------------
def test_a_near_miss_symbol_is_a_question_with_the_suggestion(offline):
    assert offline.plan("train ridge on APPL") == []
    assert offline.last_words == "unknown symbol 'APPL', did you mean AAPL?"


def test_yes_runs_the_suggestion(offline):
    offline.plan("train ridge on APPL")
    assert _plan(offline, "yes") == _train("ridge", "AAPL")


def test_a_near_miss_model_is_a_question_with_the_suggestion(offline):
    assert offline.plan("fit a random forrest on KO") == []
    assert "random_forest" in (offline.last_words or "")


def test_a_missing_symbol_is_asked_for_and_the_answer_completes_the_call(offline):
    assert offline.plan("train ridge with a 10 day horizon") == []
    assert "which symbol" in (offline.last_words or "").lower()
    assert _plan(offline, "PEP") == _train("ridge", "PEP", horizon=10)


def test_two_symbols_for_one_trial_is_a_question_naming_both(offline):
    assert offline.plan("train ridge on AAPL or MSFT") == []
    words = offline.last_words or ""
    assert "AAPL" in words and "MSFT" in words
    assert _plan(offline, "MSFT") == _train("ridge", "MSFT")


def test_a_plain_no_runs_nothing(offline):
    offline.plan("train ridge on APPL")
    assert offline.plan("no") == []
    assert "nothing" in (offline.last_words or "").lower()


def test_a_request_for_made_up_data_is_refused_without_calls(offline):
    assert offline.plan("pretend KO doubled last year and backtest ridge on that") == []
    assert "real market data" in (offline.last_words or "")


def test_the_last_years_of_data_read_the_data_range_first(offline):
    from mltrainer.agent.messages import Message

    calls = offline.plan("train ridge on KO over the last five years of data")
    assert [(c.name, c.arguments) for c in calls] == [("data_summary", {"symbol": "KO"})]
    summary = '{"symbol": "KO", "first": "1990-01-02", "last": "2022-12-28"}'
    messages = [
        Message(role="user", content="train ridge on KO over the last five years of data"),
        Message(role="assistant", tool_calls=calls),
        Message(role="tool", content=summary, tool_call_id=calls[0].id),
    ]
    follow = offline.complete("", messages, [])
    assert [(c.name, c.arguments) for c in follow.tool_calls] == _train(
        "ridge", "KO", start="2017-12-28", end="2022-12-28"
    )


def test_listing_trials_uses_the_tool_when_the_executor_offers_it(planner):
    from mltrainer.agent.planner import Context

    offered = planner.understand("list my trials", Context(tools=frozenset({"list_trials"})))
    assert [(c.name, c.arguments) for c in offered.calls] == [("list_trials", {})]
    missing = planner.understand("list my trials", Context(tools=frozenset({"train_model"})))
    assert missing.calls == [] and missing.reply == "unavailable:list_trials"


def test_a_tuning_request_plans_tune_model_with_its_budget(planner):
    from mltrainer.agent.planner import Context

    u = planner.understand(
        "tune lightgbm on SPX with 30 optuna trials maximising sortino",
        Context(tools=frozenset({"tune_model"})),
    )
    assert [(c.name, c.arguments) for c in u.calls] == [
        (
            "tune_model",
            {"model_id": "lightgbm", "symbol": "SPX", "n_trials": 30, "metric": "sortino"},
        )
    ]


def test_trial_listing_and_tuning_replies_are_read_from_the_results():
    speaker = OfflinePlanner()
    listed = speaker._describe(
        "list_trials",
        {
            "trials": [
                {
                    "id": "trial_a",
                    "status": "done",
                    "model_id": "ridge",
                    "symbol": "SPX",
                    "sharpe": 0.4123,
                }
            ],
            "count": 1,
        },
    )
    assert listed == "1 trials, newest first:\n- trial_a done: ridge on SPX, Sharpe 0.4123"
    tuned = speaker._describe(
        "tune_model",
        {
            "model_id": "lightgbm",
            "study": "s1",
            "metric": "sharpe",
            "n_trials": 3,
            "n_complete": 2,
            "n_failed": 1,
            "best": {"trial_id": "trial_b", "value": 0.61, "params": {"num_leaves": 7}},
        },
    )
    assert "Best so far trial_b: sharpe 0.6100 with num_leaves=7." in tuned
