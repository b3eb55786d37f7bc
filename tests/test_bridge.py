"""The bridge: language-model replies -> validated action requests (never executed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mltrainer.agent.bridge import ActionRequest, Bridge, ParseResult

LEGACY_ACTIONS = Path("/work/shared/legacy-samples/logs/mlagent_actions.jsonl")

SYMBOLS = (
    "SPX NASDAQ VIX GOOG EURUSD BTCUSD AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT "
    "PEP PFE PG RRC UNH WMT XOM CPILFESL DCOILWTICO AAA BAA FF3"
).split()
ALIASES = {"SP500": "SPX", "^GSPC": "SPX", "S&P500": "SPX", "S&P 500": "SPX", "GOOGL": "GOOG"}
MODEL_IDS = [
    "random_forest",
    "random_forest_classifier",
    "lightgbm",
    "lightgbm_classifier",
    "ridge",
    "lasso",
    "xgboost",
    "lstm_regressor",
    "lstm_classifier",
    "gru_regressor",
    "garch_normal",
    "arima_1_0_1",
    "ma_crossover_10_20",
    "tsmom_63",
    "hmm_2state",
]


def resolve(text: str) -> str | None:
    key = text.strip().upper()
    return key if key in SYMBOLS else ALIASES.get(key)


@pytest.fixture
def bridge() -> Bridge:
    return Bridge(MODEL_IDS, resolve, known_symbols=SYMBOLS)


def only_action(result: ParseResult) -> ActionRequest:
    assert result.errors == [], result.errors
    assert len(result.actions) == 1, result.actions
    return result.actions[0]


def messages(result: ParseResult) -> str:
    return " | ".join(e.message for e in result.errors)


# -- the legacy sample and the FOR/on bug ------------------------------------------------------
def test_legacy_mlagent_reply_parses_to_a_train_model_request(bridge: Bridge) -> None:
    record = json.loads(LEGACY_ACTIONS.read_text().splitlines()[0])
    action = only_action(bridge.parse(record["data"]["raw_response"]))
    assert action.action == "train_model"
    assert action.origin == "prose"
    assert action.params == {
        "model_id": "lstm_regressor",
        "symbol": "AAPL",
        "train_ratio": 0.75,
        "lookback": 90,
        "epochs": 100,
        "stop_loss": 0.015,
        "timeframes": [{"min": 7, "max": 12, "unit": "days"}],
    }


def test_for_aapl_in_prose_never_yields_symbol_for(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Let's run a backtest for AAPL using the ridge model."))
    assert action.params["symbol"] == "AAPL"


def test_uppercase_stop_words_are_never_symbols_even_with_a_permissive_resolver() -> None:
    seen: list[str] = []

    def anything(text: str) -> str:
        seen.append(text)
        return text.upper()

    bridge = Bridge(MODEL_IDS, anything)
    result = bridge.parse("I recommend a trial FOR AAPL USING THE LSTM model ON A daily basis.")
    assert only_action(result).params["symbol"] == "AAPL"
    assert not {"FOR", "USING", "THE", "LSTM", "ON", "A", "I"} & set(seen)


def test_unknown_uppercase_words_in_prose_are_ignored_without_errors(bridge: Bridge) -> None:
    result = bridge.parse("Train ridge on AAPL. NOTE: ZZZQ and QQQX are not in the catalogue.")
    assert only_action(result).params == {"model_id": "ridge", "symbol": "AAPL"}


def test_legacy_trial_config_with_symbol_for_and_model_on_gives_errors_not_actions(
    bridge: Bridge,
) -> None:
    config = {
        "id": "trial_20250709_195517",
        "symbol": "FOR",
        "model": "on",
        "status": "created",
        "parameters": {"train_ratio": 0.75, "lookback": 90, "epochs": 100},
        "timeframes": [{"min": 7, "max": 12, "unit": "days"}],
        "stop_loss": 0.015,
    }
    result = bridge.parse(f"TRIAL_CONFIG = {json.dumps(config)}")
    assert result.actions == []
    assert "unknown symbol 'FOR'" in messages(result)
    assert "unknown model 'on'" in messages(result)


# -- JSON in prose ---------------------------------------------------------------------------
def test_json_fence_with_line_and_block_comments_and_trailing_comma(bridge: Bridge) -> None:
    reply = """Here is the trial:
```json
{
  // picked for robustness
  "symbol": "AAPL",   // Apple
  /* a block
     comment */
  "model": "random_forest",
  "horizon": "10 days",
}
```"""
    action = only_action(bridge.parse(reply))
    assert action.origin == "json"
    assert action.params == {"model_id": "random_forest", "symbol": "AAPL", "horizon": 10}


def test_double_slash_inside_a_json_string_is_not_a_comment(bridge: Bridge) -> None:
    reply = '```json\n{"symbol": "KO", "model": "ridge", "note": "see https://x.org//a"}\n```'
    result = bridge.parse(reply)
    assert only_action(result).params == {"model_id": "ridge", "symbol": "KO"}


def test_trial_config_assignment_with_single_quotes_and_python_literals(bridge: Bridge) -> None:
    reply = "TRIAL_CONFIG = {'symbol': 'MSFT', 'model': 'xgb', 'active': True, 'lookback': 60,}"
    action = only_action(bridge.parse(reply))
    assert action.params == {"model_id": "xgboost", "symbol": "MSFT", "lookback": 60}


def test_trial_configuration_label_without_separator(bridge: Bridge) -> None:
    reply = 'TRIAL_CONFIGURATION {\n  "symbol": "SP500", "model": "lgbm", "stop_loss": "2%"\n}'
    action = only_action(bridge.parse(reply))
    assert action.params == {"model_id": "lightgbm", "symbol": "SPX", "stop_loss": 0.02}


def test_trial_parameters_block_borrows_symbol_and_model_from_the_prose(bridge: Bridge) -> None:
    reply = (
        "I suggest a trial on JPM using the GARCH model.\n"
        'TRIAL_PARAMETERS: {"train_ratio": 0.7, "epochs": 50}'
    )
    action = only_action(bridge.parse(reply))
    assert action.origin == "json"
    assert action.params == {
        "model_id": "garch_normal",
        "symbol": "JPM",
        "train_ratio": 0.7,
        "epochs": 50,
    }


def test_trial_parameters_block_without_any_model_is_a_no_model_error(bridge: Bridge) -> None:
    result = bridge.parse('TRIAL_PARAMETERS {"symbol": "AAPL", "lookback": 30}')
    assert result.actions == []
    assert "no model named" in messages(result)
    assert "random_forest" in result.errors[0].suggestions


def test_bare_json_object_in_a_sentence(bridge: Bridge) -> None:
    reply = 'I would run {"symbol": "XOM", "model": "lasso"} next.'
    assert only_action(bridge.parse(reply)).params == {"model_id": "lasso", "symbol": "XOM"}


def test_json_array_of_configs_yields_one_action_each(bridge: Bridge) -> None:
    reply = (
        '```json\n[{"symbol": "AAPL", "model": "ridge"}, {"symbol": "MSFT", "model": "lasso"}]\n```'
    )
    result = bridge.parse(reply)
    assert [(a.params["symbol"], a.params["model_id"]) for a in result.actions] == [
        ("AAPL", "ridge"),
        ("MSFT", "lasso"),
    ]


def test_explicit_action_in_json(bridge: Bridge) -> None:
    reply = '{"action": "compare_models", "models": ["ridge", "lasso"], "symbol": "SPX"}'
    action = only_action(bridge.parse(reply))
    assert action.action == "compare_models"
    assert action.params == {"model_ids": ["ridge", "lasso"], "symbol": "SPX"}


def test_non_trial_action_in_json_keeps_its_own_parameters(bridge: Bridge) -> None:
    action = only_action(bridge.parse('{"action": "list_models", "task": "classification"}'))
    assert (action.action, action.params) == ("list_models", {"task": "classification"})


def test_unknown_explicit_action_in_json_suggests_the_closest(bridge: Bridge) -> None:
    result = bridge.parse('{"action": "train_modle", "symbol": "SPX", "model": "ridge"}')
    assert result.actions == []
    assert result.errors[0].suggestions[0] == "train_model"


def test_json_beats_prose_so_one_trial_is_not_requested_twice(bridge: Bridge) -> None:
    reply = 'Let us train ridge on SPX:\n```json\n{"symbol": "SPX", "model": "ridge"}\n```'
    action = only_action(bridge.parse(reply))
    assert action.origin == "json"


def test_irrelevant_json_data_is_ignored(bridge: Bridge) -> None:
    result = bridge.parse('The last quote was {"symbol": "AAPL", "price": 191.2}.')
    assert result.actions == [] and result.errors == []


def test_braces_in_ordinary_prose_are_ignored(bridge: Bridge) -> None:
    result = bridge.parse("Fill in {symbol} and {model}, then train ridge on KO.")
    assert only_action(result).params == {"model_id": "ridge", "symbol": "KO"}


def test_malformed_json_fence_is_an_error_not_a_crash(bridge: Bridge) -> None:
    result = bridge.parse(
        '```json\n{"symbol": "AAPL", "model": "lstm", "train_ratio": 0.8,, }\n```'
    )
    assert result.actions == []
    assert messages(result).startswith("malformed JSON")
    assert result.errors[0].fragment is not None


def test_unterminated_json_object_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse('TRIAL_CONFIG = {"symbol": "AAPL", "model": "ridge"')
    assert result.actions == []
    assert "never closed" in messages(result)


def test_nan_in_json_is_rejected_not_accepted_as_a_number(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "ridge", "train_ratio": NaN}')
    assert result.actions == []
    assert "train_ratio must be a number" in messages(result)


# -- key: value lines ------------------------------------------------------------------------
def test_key_value_lines_with_markdown_and_notes(bridge: Bridge) -> None:
    reply = """**Trial setup**
- **Symbol:** KO (Coca-Cola)
- **Model:** Ridge regression
- Horizon: 10 days
- Train ratio: 0.75
- Date range: 2010-01-01 to 2012-06-30
- Timeframe: 7–12 days

Rationale: a stable stock."""
    action = only_action(bridge.parse(reply))
    assert action.origin == "key_value"
    assert action.params == {
        "model_id": "ridge",
        "symbol": "KO",
        "horizon": 10,
        "train_ratio": 0.75,
        "start": "2010-01-01",
        "end": "2012-06-30",
        "timeframes": [{"min": 7, "max": 12, "unit": "days"}],
    }


def test_key_with_percent_unit_reads_the_value_as_a_percentage(bridge: Bridge) -> None:
    reply = "Symbol: PG\nModel: lasso\nStop loss (%): 1.5"
    assert only_action(bridge.parse(reply)).params["stop_loss"] == 0.015


def test_unknown_model_in_key_value_is_an_error_with_a_suggestion(bridge: Bridge) -> None:
    result = bridge.parse("Symbol: AAPL\nModel: deep_forest")
    assert result.actions == []
    assert "unknown model 'deep_forest'" in messages(result)
    assert result.errors[0].suggestions == ["random_forest"]
    assert result.errors[0].origin == "key_value"


def test_train_ratio_given_as_a_whole_number_suggests_the_fraction(bridge: Bridge) -> None:
    result = bridge.parse("Model: random_forest\nSymbol: AAPL\nTrain ratio: 75")
    assert result.actions == []
    assert result.errors[0].suggestions == ["0.75"]


# -- tool calls ------------------------------------------------------------------------------
def test_anthropic_tool_use_blocks_as_dicts(bridge: Bridge) -> None:
    blocks = [
        {"type": "text", "text": "Running it now."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "train_model",
            "input": {"model_id": "LSTM", "symbol": "googl", "horizon": "5"},
        },
    ]
    result = bridge.parse(blocks)
    action = only_action(result)
    assert action.origin == "tool_use" and action.tool_use_id == "toolu_1"
    assert action.params == {"model_id": "lstm_regressor", "symbol": "GOOG", "horizon": 5}
    assert result.text == "Running it now."


def test_anthropic_message_object_with_content_blocks(bridge: Bridge) -> None:
    message = SimpleNamespace(
        type="message",
        content=[
            SimpleNamespace(type="text", text="Listing."),
            SimpleNamespace(type="tool_use", id="toolu_2", name="list_symbols", input={}),
        ],
    )
    action = only_action(bridge.parse(message))
    assert (action.action, action.params, action.tool_use_id) == ("list_symbols", {}, "toolu_2")


def test_openai_tool_calls_with_json_string_arguments(bridge: Bridge) -> None:
    call = SimpleNamespace(
        id="call_1",
        type="function",
        function=SimpleNamespace(
            name="compare_models",
            arguments='{"model_ids": ["ridge", "random forest"], "symbol": "^GSPC"}',
        ),
    )
    message = SimpleNamespace(content=None, tool_calls=[call], function_call=None)
    action = only_action(bridge.parse(message))
    assert action.tool_use_id == "call_1"
    assert action.params == {"model_ids": ["ridge", "random_forest"], "symbol": "SPX"}


def test_openai_message_as_a_dict(bridge: Bridge) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "trial_status", "arguments": '{"trial_id": "t_1"}'},
            }
        ],
    }
    action = only_action(bridge.parse(message))
    assert (action.action, action.params) == ("trial_status", {"trial_id": "t_1"})


def test_unknown_tool_name_is_an_error_with_suggestions(bridge: Bridge) -> None:
    blocks = [{"type": "tool_use", "id": "toolu_3", "name": "train_modle", "input": {}}]
    result = bridge.parse(blocks)
    assert result.actions == []
    assert result.errors[0].tool_use_id == "toolu_3"
    assert result.errors[0].suggestions[0] == "train_model"


def test_tool_call_with_malformed_arguments_is_an_error_for_that_call_only(bridge: Bridge) -> None:
    calls = [
        {"id": "a", "function": {"name": "list_symbols", "arguments": "{bad json"}},
        {"id": "b", "function": {"name": "list_models", "arguments": "{}"}},
    ]
    result = bridge.parse({"content": "", "tool_calls": calls})
    assert [a.tool_use_id for a in result.actions] == ["b"]
    assert [e.tool_use_id for e in result.errors] == ["a"]


def test_unknown_symbol_in_tool_input_is_an_error_with_a_suggestion(bridge: Bridge) -> None:
    blocks = [
        {
            "type": "tool_use",
            "id": "t",
            "name": "train_model",
            "input": {"model_id": "ridge", "symbol": "APPL"},
        }
    ]
    result = bridge.parse(blocks)
    assert result.actions == []
    assert result.errors[0].suggestions == ["AAPL"]


def test_text_beside_tool_calls_is_returned_but_not_parsed(bridge: Bridge) -> None:
    blocks = [
        {"type": "text", "text": "Also, train lasso on MSFT later."},
        {
            "type": "tool_use",
            "id": "t1",
            "name": "train_model",
            "input": {"model_id": "ridge", "symbol": "KO"},
        },
    ]
    result = bridge.parse(blocks)
    assert [a.params["model_id"] for a in result.actions] == ["ridge"]
    assert "lasso" in result.text


def test_financial_tool_call_is_checked_against_financial_ids() -> None:
    bridge = Bridge(MODEL_IDS, resolve, financial_ids=["black_scholes", "var_historical"])
    ok = {
        "type": "tool_use",
        "id": "f1",
        "name": "run_financial",
        "input": {"model_id": "Black-Scholes"},
    }
    bad = {
        "type": "tool_use",
        "id": "f2",
        "name": "run_financial",
        "input": {"model_id": "black_scholes_merton"},
    }
    result = bridge.parse([ok, bad])
    assert [a.params["model_id"] for a in result.actions] == ["black_scholes"]
    assert result.errors[0].tool_use_id == "f2"
    assert "black_scholes" in result.errors[0].suggestions


# -- tool schemas ------------------------------------------------------------------------------
class _TrainSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: str
    symbol: str
    horizon: int = Field(10, ge=1, le=500)
    params: dict[str, Any] = Field(default_factory=dict)


def test_tool_schema_validation_errors_become_bridge_errors() -> None:
    bridge = Bridge(MODEL_IDS, resolve, tool_schemas={"train_model": _TrainSchema})
    call = {"model_id": "ridge", "symbol": "SPX", "horizon": 900}
    result = bridge.parse([{"type": "tool_use", "id": "s1", "name": "train_model", "input": call}])
    assert result.actions == []
    assert result.errors[0].tool_use_id == "s1"
    assert "horizon" in result.errors[0].message


def test_tool_schema_receives_hyperparameters_in_its_params_mapping() -> None:
    bridge = Bridge(MODEL_IDS, resolve, tool_schemas={"train_model": _TrainSchema})
    action = only_action(
        bridge.parse("Train the LSTM model on AAPL for 20 epochs with a lookback of 30 days.")
    )
    assert action.params == {
        "model_id": "lstm_regressor",
        "symbol": "AAPL",
        "params": {"lookback": 30, "epochs": 20},
    }


def test_parameter_a_schema_does_not_declare_is_reported_by_name() -> None:
    bridge = Bridge(MODEL_IDS, resolve, tool_schemas={"train_model": _TrainSchema})
    result = bridge.parse('{"symbol": "AAPL", "model": "ridge", "train_ratio": 0.8}')
    assert result.actions == []
    assert "train_model does not take a 'train_ratio' parameter" in messages(result)


# -- models --------------------------------------------------------------------------------------
def test_random_forest_in_prose_maps_to_random_forest(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Let's train a random forest on SPX."))
    assert action.params == {"model_id": "random_forest", "symbol": "SPX"}


@pytest.mark.parametrize(
    ("written", "model_id"),
    [
        ("lightgbm_classifier", "lightgbm_classifier"),
        ("Random Forest", "random_forest"),
        ("random-forest classifier", "random_forest_classifier"),
        ("XGBoost", "xgboost"),
        ("lgbm", "lightgbm"),
        ("rf", "random_forest"),
        ("LSTM", "lstm_regressor"),
        ("GRU network", "gru_regressor"),
        ("ridge regression", "ridge"),
        ("random_forrest", "random_forest"),
        ("MA crossover", "ma_crossover_10_20"),
        ("GARCH", "garch_normal"),
    ],
)
def test_explicit_model_names_resolve_to_registry_ids(
    bridge: Bridge, written: str, model_id: str
) -> None:
    action = only_action(bridge.parse(f"Symbol: AAPL\nModel: {written}"))
    assert action.params["model_id"] == model_id


def test_near_miss_with_different_digits_is_not_silently_corrected(bridge: Bridge) -> None:
    result = bridge.parse("Symbol: AAPL\nModel: arima_1_1_1")
    assert result.actions == []
    assert "arima_1_0_1" in result.errors[0].suggestions


def test_unknown_model_in_json_is_an_error_with_a_suggestion(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "lightgbn_clasifier_v2"}')
    assert result.actions == []
    assert "lightgbm_classifier" in result.errors[0].suggestions


def test_unknown_symbol_in_json_is_an_error_with_a_suggestion(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "APPL", "model": "ridge"}')
    assert result.actions == []
    assert "unknown symbol 'APPL'" in messages(result)
    assert result.errors[0].suggestions == ["AAPL"]


def test_using_an_unknown_model_phrase_in_prose_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse("I'll start a trial on MSFT using the Prophet model.")
    assert result.actions == []
    assert "unknown model 'Prophet'" in messages(result)


def test_generic_model_phrase_is_not_taken_for_a_model_name(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on KO, then keep using the same model."))
    assert action.params["model_id"] == "ridge"


def test_symbol_with_trial_words_but_no_model_is_a_no_model_error(bridge: Bridge) -> None:
    result = bridge.parse("Start a trial on AAPL.")
    assert result.actions == []
    assert "no model named" in messages(result)
    assert result.errors[0].suggestions


def test_several_models_without_compare_is_an_error_not_a_guess(bridge: Bridge) -> None:
    result = bridge.parse("Train on AAPL: ridge or lasso would both work.")
    assert result.actions == []
    assert "several models named" in messages(result)
    assert set(result.errors[0].suggestions) == {"ridge", "lasso"}


def test_model_in_the_sentence_that_asks_wins_over_one_mentioned_in_passing(bridge: Bridge) -> None:
    reply = "Train lightgbm on SPX. Compared to random forest, LightGBM is faster."
    assert only_action(bridge.parse(reply)).params["model_id"] == "lightgbm"


def test_lowercase_hmm_is_an_interjection_not_a_model(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Hmm, let's train ridge on AAPL."))
    assert action.params["model_id"] == "ridge"


def test_financial_model_named_for_a_trial_points_to_run_financial() -> None:
    bridge = Bridge(MODEL_IDS, resolve, financial_ids=["black_scholes"])
    result = bridge.parse("Start a trial on SPX using the Black Scholes model.")
    assert result.actions == []
    assert "use run_financial" in messages(result)
    assert result.errors[0].suggestions == ["black_scholes"]


def test_compare_models_from_prose(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Compare lightgbm, ridge and random forest on SPX."))
    assert action.action == "compare_models"
    assert action.params == {"model_ids": ["lightgbm", "ridge", "random_forest"], "symbol": "SPX"}


# -- reports are not requests ---------------------------------------------------------------------
def test_sentence_reporting_a_finished_trial_is_not_a_request(bridge: Bridge) -> None:
    result = bridge.parse("The ridge trial on SPX finished with a Sharpe of 0.41.")
    assert result.actions == [] and result.errors == []


def test_request_that_mentions_a_metric_is_still_a_request(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL and report the Sharpe ratio."))
    assert action.params == {"model_id": "ridge", "symbol": "AAPL"}


def test_key_value_block_with_result_metrics_is_a_report(bridge: Bridge) -> None:
    result = bridge.parse("**Model:** ridge\n**Symbol:** SPX\n**Sharpe:** 0.41")
    assert result.actions == [] and result.errors == []


def test_json_with_metrics_is_a_report(bridge: Bridge) -> None:
    reply = 'Done: {"symbol": "SPX", "model": "ridge", "metrics": {"sharpe": 0.4}}'
    result = bridge.parse(reply)
    assert result.actions == [] and result.errors == []


def test_python_code_fence_is_not_read_as_key_value_lines(bridge: Bridge) -> None:
    reply = "```python\nmodel = RandomForestRegressor()\nsymbol = 'MSFT'\n```\nTrain ridge on AAPL."
    assert only_action(bridge.parse(reply)).params == {"model_id": "ridge", "symbol": "AAPL"}


def test_yaml_fence_is_read_as_key_value_lines(bridge: Bridge) -> None:
    reply = "```yaml\nsymbol: MSFT\nmodel: lasso\nhorizon: 5\n```"
    action = only_action(bridge.parse(reply))
    assert (action.origin, action.params) == (
        "key_value",
        {"model_id": "lasso", "symbol": "MSFT", "horizon": 5},
    )


# -- symbols in prose --------------------------------------------------------------------------
def test_prose_without_request_words_yields_nothing(bridge: Bridge) -> None:
    result = bridge.parse("Random forest results on SPX were poor last quarter.")
    assert result.actions == [] and result.errors == []


def test_several_symbols_with_no_clear_target_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse("Train ridge. AAPL and MSFT both look interesting.")
    assert result.actions == []
    assert "several symbols named" in messages(result)


def test_symbol_after_on_is_preferred_over_one_mentioned_in_passing(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL; MSFT did worse last year."))
    assert action.params["symbol"] == "AAPL"


def test_s_and_p_500_in_prose_resolves_through_the_resolver(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Run a backtest of the ridge model on the S&P 500."))
    assert action.params["symbol"] == "SPX"


def test_resolver_exceptions_count_as_unknown_symbols() -> None:
    def broken(text: str) -> str | None:
        raise LookupError(text)

    result = Bridge(MODEL_IDS, broken).parse("Train ridge on AAPL.")
    assert result.actions == [] and result.errors == []


# -- parameters in prose -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("the 7-12 days timeframe", [{"min": 7, "max": 12, "unit": "days"}]),
        ("a 7–12 day window", [{"min": 7, "max": 12, "unit": "days"}]),
        ("holding for 50 to 70 days", [{"min": 50, "max": 70, "unit": "days"}]),
        (
            "two timeframes: 7-12 days and 50-70 days",
            [{"min": 7, "max": 12, "unit": "days"}, {"min": 50, "max": 70, "unit": "days"}],
        ),
    ],
)
def test_timeframes_in_prose(bridge: Bridge, phrase: str, expected: list[dict[str, Any]]) -> None:
    action = only_action(bridge.parse(f"Train ridge on AAPL with {phrase}."))
    assert action.params["timeframes"] == expected


def test_n_day_horizon_in_prose(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL with a 10-day horizon."))
    assert action.params["horizon"] == 10


def test_year_range_in_prose_becomes_start_and_end(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL from 2005 to 2015."))
    assert (action.params["start"], action.params["end"]) == ("2005-01-01", "2015-12-31")


def test_date_range_with_between_in_prose(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL between 2010-01-01 and 2012-06-30."))
    assert (action.params["start"], action.params["end"]) == ("2010-01-01", "2012-06-30")


def test_stop_loss_percentage_becomes_a_fraction(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL and set stop loss at 1.5%."))
    assert action.params["stop_loss"] == 0.015


def test_learning_rate_in_scientific_notation(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train the lstm model on AAPL with a learning rate of 1e-3."))
    assert action.params["learning_rate"] == 0.001


def test_lookback_range_is_neither_a_lookback_nor_a_timeframe(bridge: Bridge) -> None:
    action = only_action(bridge.parse("Train ridge on AAPL with a lookback of 60-90 days."))
    assert action.params == {"model_id": "ridge", "symbol": "AAPL"}


def test_train_ratio_out_of_range_in_prose_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse("Train ridge on AAPL and set the train ratio to 1.5.")
    assert result.actions == []
    assert "train_ratio" in messages(result)


def test_conflicting_values_in_prose_are_an_error(bridge: Bridge) -> None:
    result = bridge.parse(
        "Train ridge on AAPL with a lookback of 60 days, or a lookback of 90 days."
    )
    assert result.actions == []
    assert "conflicting values for lookback" in messages(result)


# -- parameter normalisation in structured replies ------------------------------------------------
def test_zero_epochs_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "lstm", "epochs": 0}')
    assert result.actions == []
    assert "epochs must be between 1" in messages(result)


def test_fractional_lookback_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "lstm", "lookback": 90.5}')
    assert result.actions == []
    assert "lookback must be a whole number" in messages(result)


def test_start_after_end_is_an_error(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "ridge", "start": "2015", "end": "2010"}')
    assert result.actions == []
    assert "must be before end" in messages(result)


def test_horizon_in_weeks_is_refused_rather_than_converted(bridge: Bridge) -> None:
    result = bridge.parse('{"symbol": "AAPL", "model": "ridge", "horizon": "2 weeks"}')
    assert result.actions == []
    assert "horizon must be a whole number of days" in messages(result)


# -- response shapes and robustness ---------------------------------------------------------------
def test_none_response_is_an_empty_result(bridge: Bridge) -> None:
    assert bridge.parse(None) == ParseResult()


def test_unsupported_response_type_is_an_error_not_a_crash(bridge: Bridge) -> None:
    result = bridge.parse(12345)
    assert result.actions == []
    assert "cannot read a reply" in messages(result)


def test_very_long_reply_parses_well_under_a_second(bridge: Bridge) -> None:
    filler = (
        "Momentum effects (see {ref}) vary across regimes; the 2008 and 2020 drawdowns "
        "were sharp, and volatility clustering matters for risk.\n"
    )
    reply = filler * (100_000 // len(filler)) + '```json\n{"symbol": "AAPL", "model": "ridge"}\n```'
    assert len(reply) > 100_000
    start = time.perf_counter()
    result = bridge.parse(reply)
    elapsed = time.perf_counter() - start
    assert only_action(result).params == {"model_id": "ridge", "symbol": "AAPL"}
    assert elapsed < 0.5


def test_long_run_of_unclosed_braces_parses_quickly(bridge: Bridge) -> None:
    reply = '{"a": ' * 20_000 + "train ridge on AAPL"
    start = time.perf_counter()
    result = bridge.parse(reply)
    assert time.perf_counter() - start < 0.5
    assert result.actions == []
    assert "never closed" in messages(result)


def test_one_long_line_of_bare_braces_parses_quickly(bridge: Bridge) -> None:
    start = time.perf_counter()
    result = bridge.parse("{" * 100_000)
    assert time.perf_counter() - start < 1.0
    assert result.actions == [] and result.errors == []


def test_deeply_nested_json_is_an_error_not_a_crash(bridge: Bridge) -> None:
    result = bridge.parse("TRIAL_CONFIG = " + '{"a": ' * 5_000 + "1" + "}" * 5_000)
    assert result.actions == []
    assert messages(result).startswith("malformed JSON")
