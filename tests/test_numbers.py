"""The reply number check: metric numbers must come from results."""

from mltrainer.agent.numbers import check_numbers

RESULT = {
    "metrics": {
        "sharpe": -0.13271,
        "cagr": -0.06234,
        "max_drawdown": -0.43031,
        "hit_rate": 0.51164,
        "ic": -0.18712,
    }
}


def test_numbers_read_from_results_pass_at_the_shown_precision():
    text = "Sharpe -0.1327, CAGR -6.23%, max drawdown -43.03%, hit rate 51.16%, IC -0.1871."
    assert check_numbers(text, [RESULT]) == []


def test_an_invented_sharpe_is_flagged():
    flags = check_numbers("It reached a Sharpe of 1.85.", [RESULT])
    assert len(flags) == 1 and "1.85" in flags[0]


def test_a_sign_error_is_flagged_except_for_loss_magnitudes():
    assert check_numbers("Sharpe 0.1327", [RESULT])
    assert check_numbers("a drawdown of 43.03%", [RESULT]) == []


def test_a_number_must_match_a_value_of_the_same_metric():
    assert check_numbers("hit rate 43.03%", [RESULT])  # 43.03% is the drawdown, not the hit rate


def test_numbers_that_are_not_metric_statements_are_ignored():
    assert check_numbers("SPX (price, 1d, 1999-01-04..2018-12-31) over 7-12 days", []) == []


def test_a_threshold_the_user_wrote_is_not_a_claim():
    user = "set goal: momentum on SPX with Sharpe above 1 and drawdown under 5% over 7-12 days"
    reply = "Goal set: Sharpe above 1, drawdown under 5%. Constraints: sharpe > 1, drawdown < 0.05"
    assert check_numbers(reply, [], given=[user]) == []
    # Before the fix the user's own thresholds were flagged on every goal reply.
    assert check_numbers(reply, []) != []


def test_a_bare_metric_equal_to_the_goals_threshold_is_still_a_claim():
    flags = check_numbers("It reached Sharpe 1.5.", [], given=["Sharpe above 1.5"])
    assert len(flags) == 1 and "1.5" in flags[0]


def test_a_threshold_in_the_other_direction_or_another_value_is_a_claim():
    assert check_numbers("Sharpe below 1.5", [], given=["Sharpe above 1.5"])
    assert check_numbers("Sharpe above 2", [], given=["Sharpe above 1.5"])
    assert check_numbers("drawdown under 5%", [], given=["Sharpe under 5%"])


def test_numbers_inside_quotation_marks_are_examples_not_claims():
    text = 'Try "price a call with spot 100 strike 105 vol 25%" or \u201cSharpe above 1\u201d.'
    assert check_numbers(text, []) == []
    assert check_numbers(text + " It made a Sharpe of 3.1.", [])
