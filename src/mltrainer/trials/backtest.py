"""A fast, vectorised backtester for target-position strategies on OHLC bars.

``positions[t]`` is the target position decided at the close of bar ``t``: ``+1`` all-in
long, ``-1`` all-in short, ``0`` flat, or a fraction such as ``0.5`` (half the equity).
Every *change* of target is one order, filled at the next bar's open
(``fill="next_open"``, backtesting.py's default) or at the same bar's close
(``fill="close"``, backtesting.py's ``trade_on_close=True``). Only the change points are
visited by a Python loop (one iteration per order, not per bar); the equity curve is then
built for all bars at once with numpy.

The accounting mirrors ``backtesting.Backtest(..., exclusive_orders=True)`` (0.6.x) for a
strategy that calls ``self.buy()`` / ``self.sell()``:

* **Exclusive orders.** An order first closes the open trade (if any) at the fill price,
  then opens a new trade for the new target. A reversal is therefore a close plus an open,
  as ``self.position.close(); self.sell()`` does; a change from ``1`` to ``0.5`` closes the
  whole trade and opens a smaller one (it is not a partial close).
* **Sizing.** With ``integer_units=True`` the new trade has
  ``int((equity * f) // (price + f * price * commission / f))`` units, where ``equity`` is
  the account equity once the old trade is closed and ``f = |target|`` (``1`` is replaced
  by ``1 - sys.float_info.epsilon``, the size ``Strategy.buy()`` uses by default), which is
  backtesting.py's ``_Broker._process_orders`` formula; an order that buys zero units is
  dropped. With ``integer_units=False`` the size is the exact fraction
  ``equity * f / (price * (1 + commission))``.
* **Commission** is a fraction of traded value, charged at entry *and* at exit
  (``0.002`` = 0.2 % of ``|units| * price`` on each leg).
* **Equity** is marked to market at every close:
  ``balance + close * units - units * entry_price``, where ``balance`` is the starting cash
  plus realised P&L less all commissions paid. If equity falls to zero or below, the open
  trade is closed at that close and equity is zero from then on (backtesting.py's
  out-of-money stop).
* **Trades** lists closed trades only, like backtesting.py's ``stats._trades``. A trade
  still open at the last bar is included in the equity (at the last close) but not in
  ``trades``; see ``units`` for the position held at each close. A target change decided
  at the last bar with ``fill="next_open"`` is never filled (there is no next open).

Known differences from backtesting.py: with ``fill="close"`` a bar's equity already
includes that bar's fill and its commissions (backtesting.py logs the bar's equity before
the fill, so its curve shows them one bar later; final equity and trades agree); a
``fill="close"`` change decided at the last bar is filled; targets from bar 0 can trade
(backtesting.py first calls ``next()`` at bar 1); and a repeated order in the same direction
(which re-opens the trade in backtesting.py) cannot be expressed as a target position.

Not modelled: bid/ask spread, slippage, market impact, limit/stop/stop-loss/take-profit
orders, margin requirements and margin calls (``|target| > 1`` is plain leverage on the
current equity, never refused), borrowing costs for shorts, financing or dividends,
fixed per-order fees, partial fills, volume limits and intrabar prices (high and low are
not used).

Example:
    >>> import pandas as pd
    >>> bars = pd.DataFrame({"open": [10.0, 10.0, 11.0, 12.0], "close": [10.0, 11.0, 12.0, 12.0]})
    >>> res = backtest(bars, [1, 1, 0, 0], cash=100.0)  # 9 units: 100 * (1 - eps) // 10
    >>> res.trades[["entry_price", "exit_price", "size", "pnl"]].to_dict("records")
    [{'entry_price': 10.0, 'exit_price': 12.0, 'size': 9, 'pnl': 18.0}]
    >>> res.final_equity
    118.0
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import TrialError

__all__ = [
    "BacktestError",
    "BacktestResult",
    "backtest",
    "crossover_positions",
    "sma_crossover_positions",
]

Fill = Literal["next_open", "close"]

# backtesting.py's default ``Strategy.buy()`` size: "all available equity", as a fraction < 1.
_FULL_EQUITY = 1.0 - sys.float_info.epsilon

_TRADE_COLUMNS = (
    "entry_bar",
    "exit_bar",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "size",
    "pnl",
    "return_pct",
    "commission",
)


class BacktestError(TrialError, ValueError):
    """The inputs of :func:`backtest` are invalid (shape, columns, cash, commission)."""


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of :func:`backtest`.

    Attributes:
        equity: account value at each bar's close, in cash units, indexed like the frame.
        final_equity: ``equity`` at the last bar, in cash units (open trades marked at the
            last close).
        n_trades: number of closed trades (``len(trades)``).
        returns: simple per-bar returns of ``equity`` (a fraction; 0 at the first bar).
        units: signed units held at each bar's close.
        trades: one row per closed trade, in order: ``entry_bar``/``exit_bar`` (row
            positions), ``entry_time``/``exit_time`` (index labels), ``entry_price``/
            ``exit_price`` (cash per unit), ``size`` (signed units; negative is short),
            ``pnl`` (cash, net of both commissions), ``return_pct`` (``pnl`` relative to
            the entry value, as a fraction, not percent) and ``commission`` (cash, both
            legs). Built on first access, so parameter sweeps that read only
            ``final_equity`` do not pay for a DataFrame per run.
    """

    final_equity: float
    n_trades: int
    _equity: np.ndarray = field(repr=False)
    _units: np.ndarray = field(repr=False)
    _index: pd.Index = field(repr=False)
    _trade_rows: list[tuple] = field(repr=False)
    _integer_units: bool = field(repr=False)

    # The pandas views are built on first access: a parameter sweep that reads only
    # ``final_equity`` pays for none of them.
    @cached_property
    def equity(self) -> pd.Series:
        return pd.Series(self._equity, index=self._index, name="equity")

    @cached_property
    def units(self) -> pd.Series:
        return pd.Series(self._units, index=self._index, name="units")

    @cached_property
    def returns(self) -> pd.Series:
        eq = self._equity
        rets = np.zeros(eq.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            rets[1:] = eq[1:] / eq[:-1] - 1.0
        rets = np.nan_to_num(rets, nan=0.0, posinf=0.0, neginf=0.0)  # 0/0 after going broke
        return pd.Series(rets, index=self._index, name="returns")

    @cached_property
    def trades(self) -> pd.DataFrame:
        return _trades_frame(self._trade_rows, self._index, self._integer_units)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    for col in (name, name.capitalize()):
        if col in frame.columns:
            return frame[col].to_numpy(dtype=float)
    raise BacktestError(f"backtest needs an {name!r} column; the frame has {list(frame.columns)}")


def backtest(
    frame: pd.DataFrame,
    positions: ArrayLike,
    *,
    cash: float = 10_000,
    commission: float = 0.0,
    fill: Fill = "next_open",
    integer_units: bool = True,
) -> BacktestResult:
    """Simulate target ``positions`` on the bars of ``frame``.

    Args:
        frame: bars in time order with ``open`` and ``close`` columns (``Open``/``Close``,
            backtesting.py's spelling, also work), prices in cash per unit.
        positions: target position decided at each bar's close, one per row of ``frame``:
            a fraction of equity, signed (``1`` all-in long, ``-1`` all-in short, ``0``
            flat, ``0.5`` half). NaN means flat.
        cash: starting cash, in cash units (> 0).
        commission: fraction of traded value charged on each leg (``0.002`` = 0.2 %).
        fill: ``"next_open"`` fills a change decided at bar ``t`` at the open of ``t + 1``;
            ``"close"`` fills it at the close of ``t``.
        integer_units: trade whole units (as backtesting.py does) rather than fractions.

    Returns:
        A :class:`BacktestResult`; see the module docstring for the exact accounting.

    Raises:
        BacktestError: mismatched lengths, a missing column, non-positive cash or prices,
            a commission outside ``[0, 1)``, an unknown ``fill`` or infinite positions.

    Example:
        >>> import pandas as pd
        >>> bars = pd.DataFrame({"open": [10.0, 10.0, 8.0], "close": [10.0, 9.0, 8.0]})
        >>> res = backtest(bars, [-1, -1, -1], cash=100.0, commission=0.01)
        >>> int(res.units.iloc[-1]), round(res.final_equity, 2)
        (-9, 117.1)
    """
    if fill not in ("next_open", "close"):
        raise BacktestError(f"fill must be 'next_open' or 'close', not {fill!r}")
    if not cash > 0:
        raise BacktestError(f"cash must be > 0, is {cash}")
    if not 0 <= commission < 1:
        raise BacktestError(f"commission is a fraction of trade value in [0, 1), is {commission}")
    opens, closes = _column(frame, "open"), _column(frame, "close")
    n = len(frame)
    pos = np.asarray(positions, dtype=float).reshape(-1)
    if pos.shape[0] != n:
        raise BacktestError(f"{pos.shape[0]} positions for {n} bars; give one per bar")
    if np.isinf(pos).any():
        raise BacktestError("positions must be finite (NaN is read as flat)")
    pos = np.nan_to_num(pos)

    # Orders: the bars where the target changes, and where each is filled.
    changed = np.flatnonzero(pos != np.concatenate(([0.0], pos[:-1])))
    fill_bar = changed + 1 if fill == "next_open" else changed
    keep = fill_bar < n
    changed, fill_bar = changed[keep], fill_bar[keep]
    fill_price = (opens if fill == "next_open" else closes)[fill_bar]
    if fill_bar.size and not (fill_price > 0).all():
        raise BacktestError("fill prices must be positive")

    c = float(commission)
    # State after each order; row 0 is the state before the first order.
    k = fill_bar.size
    st_balance = [float(cash)] + [0.0] * k
    st_units: list[float] = [0] * (k + 1)
    st_entry = [0.0] * (k + 1)
    st_entry_bar = [-1] * (k + 1)
    trades: list[tuple] = []
    balance, units, entry, entry_bar = float(cash), 0, 0.0, -1
    for j, (bar, px, target) in enumerate(
        zip(fill_bar.tolist(), fill_price.tolist(), pos[changed].tolist(), strict=True), 1
    ):
        if units:  # close the open trade at the fill price (same float ops as backtesting.py)
            fee_out = abs(units) * px * c
            balance += units * (px - entry) - fee_out
            trades.append((entry_bar, bar, entry, px, units, abs(units) * entry * c + fee_out))
            units = 0
        if target:
            f = abs(target)
            equity = max(0.0, balance)
            if integer_units:
                f = _FULL_EQUITY if f == 1.0 else f
                size = int((equity * f) // (px + f * px * c / f))
            else:
                size = equity * f / (px * (1.0 + c))
            if size:
                units = size if target > 0 else -size
                entry, entry_bar = px, bar
                balance -= abs(units) * px * c
        st_balance[j], st_units[j], st_entry[j], st_entry_bar[j] = balance, units, entry, entry_bar

    # Mark to market at every close: which post-order state applies at bar t.
    step = np.zeros(n, dtype=np.int64)
    step[fill_bar] = 1  # fill bars are distinct
    state = np.cumsum(step)
    bal_t = np.asarray(st_balance)[state]
    units_t = np.asarray(st_units, dtype=np.int64 if integer_units else float)[state]
    entry_t = np.asarray(st_entry)[state]
    equity = bal_t + (closes * units_t - units_t * entry_t)

    broke = np.flatnonzero(equity <= 0)
    if broke.size:  # out of money: close at that close, nothing happens afterwards
        b = int(broke[0])
        s = int(state[b])
        trades = [t for t in trades if t[1] <= b]
        u = st_units[s]
        if u:
            px, en = float(closes[b]), st_entry[s]
            fee_out = abs(u) * px * c
            trades.append((st_entry_bar[s], b, en, px, u, abs(u) * en * c + fee_out))
        equity[b:] = 0.0
        units_t[b:] = 0

    return BacktestResult(
        final_equity=float(equity[-1]) if n else float(cash),
        n_trades=len(trades),
        _equity=equity,
        _units=units_t,
        _index=frame.index,
        _trade_rows=trades,
        _integer_units=integer_units,
    )


def _trades_frame(trades: list[tuple], index: pd.Index, integer_units: bool) -> pd.DataFrame:
    if trades:
        cols = [np.asarray(col) for col in zip(*trades, strict=True)]
    else:
        cols = [np.empty(0, np.int64)] * 2 + [np.empty(0)] * 4
    entry_bar, exit_bar, entry_px, exit_px, size, fees = cols
    size = size.astype(np.int64 if integer_units else float)
    pnl = size * (exit_px - entry_px) - fees
    return pd.DataFrame(
        copy=False,
        data={
            "entry_bar": entry_bar.astype(np.int64),
            "exit_bar": exit_bar.astype(np.int64),
            "entry_time": index[entry_bar],
            "exit_time": index[exit_bar],
            "entry_price": entry_px,
            "exit_price": exit_px,
            "size": size,
            "pnl": pnl,
            "return_pct": pnl / (np.abs(size) * entry_px),
            "commission": fees,
        },
    )


def crossover_positions(fast: ArrayLike, slow: ArrayLike) -> np.ndarray:
    """``+1`` from a bar where ``fast`` crosses above ``slow``, ``-1`` from a cross below.

    A cross up at bar ``t`` is ``fast[t-1] < slow[t-1] and fast[t] > slow[t]`` (as in
    ``backtesting.lib.crossover``; NaN never crosses); the position is held until the
    opposite cross, and is ``0`` before the first cross.

    Args:
        fast, slow: two series of the same length (e.g. a short and a long moving average).

    Returns:
        A float array of ``-1.0``, ``0.0`` and ``1.0``, one per bar.

    Example:
        >>> crossover_positions([1, 3, 3, 1, 1], [2, 2, 2, 2, 2]).tolist()
        [0.0, 1.0, 1.0, -1.0, -1.0]
    """
    a, b = np.asarray(fast, dtype=float), np.asarray(slow, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise BacktestError(f"fast and slow must be 1-D and equally long: {a.shape} vs {b.shape}")
    signal = np.zeros(a.shape[0])
    if a.shape[0] < 2:
        return signal
    below, above = a < b, a > b  # both False where either is NaN
    signal[1:][below[:-1] & above[1:]] = 1.0
    signal[1:][above[:-1] & below[1:]] = -1.0
    last = np.where(signal != 0, np.arange(a.shape[0]), 0)
    return signal[np.maximum.accumulate(last)]


def sma_crossover_positions(close: ArrayLike, n1: int, n2: int) -> np.ndarray:
    """Positions of backtesting.py's ``SmaCross`` example: long after SMA(``n1``) crosses
    above SMA(``n2``), short after it crosses below, held until the opposite cross.

    The moving averages equal ``pandas.Series.rolling(n).mean()`` bit for bit (see
    :func:`rolling_mean`), exactly as ``backtesting.test.SMA`` computes them, so the
    crossing bars agree bit for bit. One
    corner differs: if the averages touch exactly (equal at a bar) and part again, the
    strategy can see two crosses in the same direction in a row; backtesting.py then closes
    and reopens the trade, whereas a target position that does not change trades nothing.

    Args:
        close: closing prices, one per bar.
        n1, n2: SMA windows in bars (>= 1).

    Returns:
        A float array in ``{-1, 0, 1}`` (``0`` until the first cross), one per bar.

    Example:
        >>> pos = sma_crossover_positions([5, 4, 3, 4, 5, 6, 5, 4, 3], 2, 3)
        >>> pos.tolist()
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, -1.0]
    """
    if int(n1) != n1 or int(n2) != n2 or n1 < 1 or n2 < 1:
        raise BacktestError(f"SMA windows must be positive integers, are {n1} and {n2}")
    c = np.asarray(close, dtype=float)
    return crossover_positions(rolling_mean(c, int(n1)), rolling_mean(c, int(n2)))


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """``pandas.Series(values).rolling(window).mean()``, bit for bit, as a numpy array.

    Calls pandas' own compiled kernel (``pandas._libs.window.aggregations.roll_mean``)
    directly: the same compensated summation, so crossing bars agree exactly with
    backtesting.py, without the ~60 µs of Series/Rolling object overhead per call that
    dominated a single SMA backtest. Falls back to the public API if that private kernel
    is missing or changes signature in a future pandas.

    Example:
        >>> rolling_mean(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist()
        [nan, 1.5, 2.5, 3.5]
    """
    x = np.ascontiguousarray(values, dtype=np.float64)
    try:
        from pandas._libs.window.aggregations import roll_mean

        end = np.arange(1, x.shape[0] + 1, dtype=np.int64)
        start = np.maximum(end - window, 0)
        out = np.asarray(roll_mean(x, start, end, window))
        if out.shape == x.shape:
            return out
    except (ImportError, TypeError, ValueError):
        pass
    return pd.Series(x).rolling(window).mean().to_numpy()
