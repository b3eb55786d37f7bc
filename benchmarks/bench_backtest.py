"""Benchmark: mltrainer's vectorised backtester vs backtesting.py on bundled GOOG.

(a) One SMA(10, 20) crossover run (cash 10,000, commission 0.2 %, exclusive orders) through
    both: trade-date agreement, final equities, median timings, speed ratio.
(b) A 100-combination SMA grid through both: ours calls :func:`backtest` per combination
    (SMAs computed once per window); backtesting.py runs ``Backtest.optimize`` (process
    pool) and a plain loop of ``Backtest.run``, and the faster of the two is compared.

Run from the repository root: ``.venv/bin/python benchmarks/bench_backtest.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from mltrainer.data.bundled import BundledSource
from mltrainer.trials.backtest import (
    backtest,
    crossover_positions,
    rolling_mean,
    sma_crossover_positions,
)

warnings.filterwarnings("ignore", module="backtesting")
warnings.filterwarnings("ignore", message=".*trades remain open.*")

CASH, COMMISSION = 10_000, 0.002
N1 = range(5, 51, 5)  # 10 fast windows
N2 = range(55, 200, 16)  # 10 slow windows: 55, 71, ..., 199
TARGET = 50.0


class SmaCross(Strategy):
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


def median_time(fn: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Median over ``repeat`` timings of ``number`` calls, in seconds per call."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def single_run(frame: pd.DataFrame, repeat: int) -> tuple[float, float]:
    bt = Backtest(GOOG, SmaCross, cash=CASH, commission=COMMISSION, exclusive_orders=True)
    ref = bt.run()
    res = backtest(
        frame, sma_crossover_positions(frame["close"], 10, 20), cash=CASH, commission=COMMISSION
    )
    theirs = ref["_trades"]
    same_entries = list(res.trades["entry_time"]) == list(theirs["EntryTime"])
    same_exits = list(res.trades["exit_time"]) == list(theirs["ExitTime"])
    diff = res.final_equity / ref["Equity Final [$]"] - 1
    print("(a) SMA(10, 20) crossover on GOOG, cash 10,000, commission 0.2%")
    print(
        f"    trades: ours {res.n_trades}, backtesting.py {len(theirs)}; "
        f"entry dates identical: {same_entries}, exit dates identical: {same_exits}"
    )
    print(
        f"    final equity: ours {res.final_equity:,.6f}, "
        f"backtesting.py {ref['Equity Final [$]']:,.6f}, difference {100 * diff:+.3g} %"
    )

    def ours_full():  # positions + backtest + the trades DataFrame
        r = backtest(
            frame, sma_crossover_positions(frame["close"], 10, 20), cash=CASH, commission=COMMISSION
        )
        return r.trades

    t_ours = median_time(ours_full, 2 * repeat + 1, number=50)  # cheap: time more
    t_ref = median_time(bt.run, repeat)
    print(
        f"    time (median): ours {1e3 * t_ours:.3f} ms, "
        f"backtesting.py {1e3 * t_ref:.1f} ms, ours is {t_ref / t_ours:.0f}x faster; "
        f"target >= {TARGET:.0f}x: {'MET' if t_ref / t_ours >= TARGET else 'NOT met'}"
    )
    return t_ours, t_ref


def grid(frame: pd.DataFrame, repeat: int) -> float:
    pairs = [(a, b) for a in N1 for b in N2 if a < b]
    assert len(pairs) == 100, len(pairs)
    close = frame["close"].to_numpy()

    def ours() -> dict[tuple[int, int], float]:
        sma = {n: rolling_mean(close, n) for n in {*N1, *N2}}
        return {
            (a, b): backtest(
                frame, crossover_positions(sma[a], sma[b]), cash=CASH, commission=COMMISSION
            ).final_equity
            for a, b in pairs
        }

    bt = Backtest(GOOG, SmaCross, cash=CASH, commission=COMMISSION, exclusive_orders=True)

    def ref_optimize() -> pd.Series:
        _, heat = bt.optimize(
            n1=N1,
            n2=N2,
            constraint=lambda p: p.n1 < p.n2,
            maximize="Equity Final [$]",
            return_heatmap=True,
        )
        return heat

    def ref_loop() -> dict[tuple[int, int], float]:
        return {(a, b): bt.run(n1=a, n2=b)["Equity Final [$]"] for a, b in pairs}

    # Agreement first (untimed): every pair's trades and final equity, run by run.
    mine, n_same, worst = ours(), 0, 0.0
    for a, b in pairs:
        ref = bt.run(n1=a, n2=b)
        res = backtest(
            frame, sma_crossover_positions(close, a, b), cash=CASH, commission=COMMISSION
        )
        theirs = ref["_trades"]
        entries = list(res.trades["entry_time"]) == list(theirs["EntryTime"])
        exits = list(res.trades["exit_time"]) == list(theirs["ExitTime"])
        n_same += entries and exits
        worst = max(worst, abs(mine[a, b] / ref["Equity Final [$]"] - 1))
    print(
        f"(b) {len(pairs)}-combination grid: n1 in {N1.start}..{N1.stop - 1} step {N1.step}, "
        f"n2 in {N2.start}..{N2.stop - 1} step {N2.step}"
    )
    print(
        f"    pairs with identical trade entry and exit dates: {n_same}/{len(pairs)}; "
        f"worst final-equity difference {100 * worst:.2g} %"
    )

    t_ours = median_time(ours, repeat)
    t_opt = median_time(ref_optimize, max(1, repeat // 2))
    t_loop = median_time(ref_loop, max(1, repeat // 2))
    best, how = (t_opt, "Backtest.optimize") if t_opt <= t_loop else (t_loop, "loop of run()")
    print(
        f"    time (median): ours {1e3 * t_ours:.1f} ms; backtesting.py "
        f"Backtest.optimize {t_opt:.2f} s, loop of Backtest.run {t_loop:.2f} s"
    )
    ratio = best / t_ours
    print(
        f"    ours vs backtesting.py's faster way ({how}): {ratio:.0f}x faster; "
        f"target >= {TARGET:.0f}x: {'MET' if ratio >= TARGET else 'NOT MET'}"
    )
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats (median is reported)")
    args = ap.parse_args()
    frame = BundledSource().fetch("GOOG").frame
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{len(frame)} bars of GOOG {frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}"
    )
    single_run(frame, args.repeat)
    grid(frame, args.repeat)


if __name__ == "__main__":
    main()
