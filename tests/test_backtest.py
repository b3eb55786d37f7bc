"""The vectorised backtester against backtesting.py and against hand-computed accounts.

The reference runs use backtesting.py itself on its own copy of GOOG (the bundled GOOG is
the same data). Hand-written cases spell out every fill, fee and mark-to-market value.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import MLTrainerError
from mltrainer.trials.backtest import (
    BacktestError,
    backtest,
    crossover_positions,
    sma_crossover_positions,
)


class SmaCross(Strategy):
    """backtesting.py's Quick Start strategy."""

    n1 = 10
    n2 = 20

    def init(self):
        price = self.data.Close
        self.ma1 = self.I(SMA, price, self.n1)
        self.ma2 = self.I(SMA, price, self.n2)

    def next(self):
        if crossover(self.ma1, self.ma2):
            self.buy()
        elif crossover(self.ma2, self.ma1):
            self.sell()


class FollowTargets(Strategy):
    """Trades a precomputed target array the way :func:`backtest` reads it."""

    targets: np.ndarray = np.zeros(0)

    def init(self):
        self.last = 0.0

    def next(self):
        target = float(self.targets[len(self.data) - 1])
        if target == self.last:
            return
        if target == 0:
            self.position.close()
        elif target > 0:
            self.buy() if target == 1 else self.buy(size=target)
        else:
            self.sell() if target == -1 else self.sell(size=-target)
        self.last = target


def reference(data: pd.DataFrame, strategy: type[Strategy], params=None, **kw) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Backtest(data, strategy, cash=10_000, exclusive_orders=True, **kw).run(
            **(params or {})
        )


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return BundledSource().fetch("GOOG").frame


def test_bundled_goog_is_backtesting_goog(goog):
    assert (goog.index == GOOG.index).all()
    np.testing.assert_array_equal(goog[["open", "close"]].to_numpy(), GOOG[["Open", "Close"]])


# -- backtesting.py on real data --------------------------------------------------------------
@pytest.mark.parametrize(("n1", "n2"), [(10, 20), (5, 55), (30, 103)])
def test_sma_cross_matches_backtesting_py(goog, n1, n2):
    ref = reference(GOOG, SmaCross, {"n1": n1, "n2": n2}, commission=0.002)
    pos = sma_crossover_positions(goog["close"], n1, n2)
    ours = backtest(goog, pos, cash=10_000, commission=0.002)
    theirs = ref["_trades"]

    assert ours.n_trades == len(theirs) == ref["# Trades"]
    assert list(ours.trades["entry_time"]) == list(theirs["EntryTime"])
    assert list(ours.trades["exit_time"]) == list(theirs["ExitTime"])
    assert abs(ours.final_equity / ref["Equity Final [$]"] - 1) < 0.005  # the brief's bound
    # In fact the accounting is the same float arithmetic, so everything agrees to ~1e-12.
    assert ours.final_equity == pytest.approx(ref["Equity Final [$]"], rel=1e-12)
    np.testing.assert_array_equal(ours.trades["size"], theirs["Size"])
    np.testing.assert_allclose(ours.trades["entry_price"], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["exit_price"], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["pnl"], theirs["PnL"], rtol=1e-9)
    np.testing.assert_allclose(ours.trades["return_pct"], theirs["ReturnPct"], rtol=1e-9)
    np.testing.assert_allclose(ours.equity, ref["_equity_curve"]["Equity"], rtol=1e-12)


def test_fill_on_close_matches_trade_on_close(goog):
    ref = reference(GOOG, SmaCross, commission=0.002, trade_on_close=True)
    ours = backtest(
        goog, sma_crossover_positions(goog["close"], 10, 20), commission=0.002, fill="close"
    )
    theirs = ref["_trades"]
    assert list(ours.trades["entry_time"]) == list(theirs["EntryTime"])
    assert list(ours.trades["exit_time"]) == list(theirs["ExitTime"])
    np.testing.assert_array_equal(ours.trades["size"], theirs["Size"])
    assert ours.final_equity == pytest.approx(ref["Equity Final [$]"], rel=1e-12)
    # backtesting.py logs a bar's equity before that bar's close-fill, so its curve shows
    # the fill's commissions one bar later; away from fill bars the curves are identical.
    fills = ours.units.diff().fillna(0).to_numpy() != 0
    np.testing.assert_allclose(
        ours.equity[~fills], ref["_equity_curve"]["Equity"][~fills], rtol=1e-12
    )


def test_random_fractional_targets_match_backtesting_py(goog):
    rng = np.random.default_rng(7)
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    # A new target every 1-40 bars, so flats, reversals and resizes all occur.
    blocks = rng.integers(1, 40, size=200)
    targets = np.repeat(rng.choice(levels, size=blocks.size), blocks)[: len(goog)]
    targets[:2] = 0.0  # backtesting.py calls next() from bar 1, so bar 0 can't trade
    strategy = type("Follow", (FollowTargets,), {"targets": targets})
    ref = reference(GOOG, strategy, commission=0.001)
    ours = backtest(goog, targets, commission=0.001)
    theirs = ref["_trades"]
    assert ours.n_trades == len(theirs) > 50
    assert list(ours.trades["entry_time"]) == list(theirs["EntryTime"])
    assert list(ours.trades["exit_time"]) == list(theirs["ExitTime"])
    np.testing.assert_array_equal(ours.trades["size"], theirs["Size"])
    assert ours.final_equity == pytest.approx(ref["Equity Final [$]"], rel=1e-12)
    np.testing.assert_allclose(ours.equity, ref["_equity_curve"]["Equity"], rtol=1e-12)


def test_sma_crossover_positions_follow_backtesting_crossover(goog):
    close = goog["close"].to_numpy()
    ma1, ma2 = SMA(close, 10).to_numpy(), SMA(close, 20).to_numpy()
    expected, held = np.zeros(len(close)), 0.0
    for i in range(1, len(close)):
        if crossover(ma1[: i + 1], ma2[: i + 1]):
            held = 1.0
        elif crossover(ma2[: i + 1], ma1[: i + 1]):
            held = -1.0
        expected[i] = held
    np.testing.assert_array_equal(sma_crossover_positions(close, 10, 20), expected)


# -- hand-computed accounts --------------------------------------------------------------------
BARS = pd.DataFrame(
    {
        "open": [100.0, 101.0, 103.0, 104.0, 102.0],
        "close": [100.5, 102.0, 104.0, 103.0, 101.0],
    },
    index=pd.date_range("2024-01-01", periods=5, freq="D"),
)


def test_one_long_trade_with_commission_on_both_legs():
    res = backtest(BARS, [1, 1, 1, 0, 0], cash=1000.0, commission=0.01)
    # Decided at close 0, filled at open 1 (101): floor(1000 / (101 * 1.01)) = 9 units,
    # entry fee 9 * 101 * 1% = 9.09. Flat decided at close 3, filled at open 4 (102):
    # exit fee 9 * 102 * 1% = 9.18; pnl = 9 * (102 - 101) - 9.09 - 9.18 = -9.27.
    assert res.n_trades == 1
    t = res.trades.iloc[0]
    assert (t.entry_time, t.exit_time) == (BARS.index[1], BARS.index[4])
    assert (t.entry_bar, t.exit_bar, t["size"]) == (1, 4, 9)
    assert (t.entry_price, t.exit_price) == (101.0, 102.0)
    assert t.commission == pytest.approx(18.27)
    assert t.pnl == pytest.approx(-9.27)
    assert t.return_pct == pytest.approx(-9.27 / 909.0)
    # Marked at each close: 1000 | 990.91 + 9 * (close - 101) | ... | 990.73 once flat.
    np.testing.assert_allclose(res.equity, [1000.0, 999.91, 1017.91, 1008.91, 990.73])
    assert res.final_equity == pytest.approx(990.73)
    np.testing.assert_array_equal(res.units, [0, 9, 9, 9, 0])
    np.testing.assert_allclose(res.returns, np.r_[0.0, np.diff(res.equity) / res.equity[:-1]])


def test_no_commission_pnl_is_units_times_price_move():
    res = backtest(BARS, [1, 1, 1, 0, 0], cash=1000.0)
    # floor(1000 * (1 - eps) / 101) = 9 units; (102 - 101) * 9 = 9.
    assert res.trades["pnl"].tolist() == [9.0]
    assert res.final_equity == 1009.0


def test_reversal_closes_then_opens():
    res = backtest(BARS, [1, 1, -1, -1, -1], cash=1000.0, commission=0.01)
    # Long 9 @ 101 (fee 9.09). Short decided at close 2, filled at open 3 (104): the long
    # closes first (+27 - fee 9.36 -> balance 1008.55), then floor(1008.55 / 105.04) = 9
    # units are sold short (fee 9.36 -> balance 999.19).
    assert res.n_trades == 1  # the short is still open at the end
    t = res.trades.iloc[0]
    assert (t.entry_bar, t.exit_bar, t["size"], t.exit_price) == (1, 3, 9, 104.0)
    assert t.pnl == pytest.approx(27 - 9.09 - 9.36)
    np.testing.assert_array_equal(res.units, [0, 9, 9, -9, -9])
    # Short marked at close 3 (103) and close 4 (101): 999.19 + 9 and 999.19 + 27.
    np.testing.assert_allclose(res.equity[3:], [1008.19, 1026.19])


def test_exact_multiple_of_price_buys_one_unit_less_like_strategy_buy():
    bars = pd.DataFrame({"open": [100.0] * 3, "close": [100.0] * 3})
    assert backtest(bars, [1, 1, 1], cash=1000.0).units.iloc[-1] == 9  # size = 1 - eps
    assert backtest(bars, [0.5, 0.5, 0.5], cash=1000.0).units.iloc[-1] == 5


def test_fractional_units_and_fractional_targets():
    res = backtest(BARS, [0.5, 0.5, 0.5, 0, 0], cash=1000.0, commission=0.01, integer_units=False)
    units = 1000.0 * 0.5 / (101 * 1.01)
    assert res.units.iloc[1] == pytest.approx(units)
    expected = 1000.0 + units * (102 - 101) - units * 101 * 0.01 - units * 102 * 0.01
    assert res.final_equity == pytest.approx(expected)


def test_fill_on_close():
    res = backtest(BARS, [1, 1, 0, 0, 0], cash=1000.0, fill="close")
    # Bought at close 0 (100.5): floor(1000 / 100.5) = 9; sold at close 2 (104).
    t = res.trades.iloc[0]
    assert (t.entry_bar, t.exit_bar, t.entry_price, t.exit_price) == (0, 2, 100.5, 104.0)
    assert res.final_equity == pytest.approx(1000 + 9 * 3.5)


def test_change_on_last_bar_is_not_filled_and_nan_is_flat():
    res = backtest(BARS, [np.nan, 0, 0, 0, 1], cash=1000.0)
    assert res.n_trades == 0 and res.trades.empty
    assert (res.units == 0).all() and (res.equity == 1000.0).all()


def test_too_little_cash_for_one_unit_skips_the_order():
    res = backtest(BARS, [1, 1, 1, 1, 1], cash=50.0)
    assert (res.units == 0).all() and res.final_equity == 50.0


def test_out_of_money_short_stops_like_backtesting_py():
    bars = pd.DataFrame(
        {
            "Open": [10.0, 10.0, 10.0, 25.0, 30.0, 40.0],
            "High": [10.0, 10.0, 20.0, 30.0, 30.0, 40.0],
            "Low": [10.0, 10.0, 10.0, 25.0, 30.0, 40.0],
            "Close": [10.0, 10.0, 20.0, 30.0, 30.0, 40.0],
        },
        index=pd.date_range("2024-01-01", periods=6, freq="D"),
    )
    targets = np.array([0, -1, -1, -1, 1, 1], dtype=float)
    res = backtest(bars, targets, cash=100.0)
    # Short 9 @ 10 from open 2; at close 3 (30) equity = 100 - 9 * 20 = -80 <= 0, so the
    # trade is closed at that close and nothing else happens.
    assert res.n_trades == 1
    t = res.trades.iloc[0]
    assert (t.entry_bar, t.exit_bar, t["size"], t.pnl) == (2, 3, -9, -180.0)
    np.testing.assert_array_equal(res.equity, [100.0, 100.0, 10.0, 0.0, 0.0, 0.0])
    strategy = type("Follow", (FollowTargets,), {"targets": targets})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Backtest(bars, strategy, cash=100.0, exclusive_orders=True).run()
    np.testing.assert_array_equal(res.equity, ref["_equity_curve"]["Equity"])
    assert ref["_trades"]["ExitBar"].tolist() == [3]
    assert ref["_trades"]["PnL"].tolist() == [-180.0]


def test_crossover_positions_hold_until_the_opposite_cross():
    fast = [1.0, 3.0, 3.0, np.nan, 1.0, 3.0, 1.0]
    slow = [2.0] * 7
    # Up at 1; NaN at 3 hides the cross down (no cross at 3 or 4); up-cross at 5 needs
    # fast[4] < slow[4], which holds; down at 6.
    assert crossover_positions(fast, slow).tolist() == [0, 1, 1, 1, 1, 1, -1]
    assert crossover_positions([1.0], [2.0]).tolist() == [0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"positions": [1, 0]}, "positions for 5 bars"),
        ({"fill": "open"}, "fill must be"),
        ({"cash": 0}, "cash must be"),
        ({"commission": -0.01}, "commission"),
        ({"positions": [1, np.inf, 0, 0, 0]}, "finite"),
    ],
)
def test_invalid_inputs(kwargs, match):
    args = {"positions": [0, 1, 1, 0, 0], **kwargs}
    with pytest.raises(BacktestError, match=match):
        backtest(BARS, args.pop("positions"), **args)


def test_errors_are_mltrainer_and_value_errors():
    with pytest.raises(MLTrainerError, match="'open' column"):
        backtest(BARS[["close"]], [0] * 5)
    with pytest.raises(ValueError, match="positive integers"):
        sma_crossover_positions(BARS["close"], 0, 3)


@pytest.mark.parametrize("window", [1, 2, 10, 55, 199])
def test_rolling_mean_equals_pandas_bit_for_bit(goog, window):
    from mltrainer.trials.backtest import rolling_mean

    close = goog["close"]
    expected = close.rolling(window).mean().to_numpy()
    np.testing.assert_array_equal(rolling_mean(close.to_numpy(), window), expected)
