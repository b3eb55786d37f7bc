"""Slot readers for the financial models: option inputs in any order and unit, VaR
confidence and holding period, CAPM markets, pairs, portfolio weights, Kelly bets...

Each reader returns the financial model id and its parameters (the names of
:mod:`mltrainer.financial`'s parameter models) read from the message; what the message
does not give keeps the model's default. Units are converted the way the model's docs say:
rates, volatilities and yields are decimals (``25%`` and ``25`` both mean 0.25 for a
volatility), maturities are years (``6 months`` = 0.5, ``90 days`` = 90/365), money is
in currency units (``$1m`` = 1,000,000).
"""

from __future__ import annotations

import re
from typing import Any

from .entities import NUM, Tagged, number_value
from .slots import Problem, Slots, symbol_slots

__all__ = ["READERS", "financial_slots"]

_N = r"(-?\d+(?:\.\d+)?)"
_SEP = r"\s*(?:=|:|of|at|is|to)?\s*"


def _find(text: str, patterns: tuple[str, ...]) -> re.Match[str] | None:
    for rx in patterns:
        m = re.search(rx, text, re.I)
        if m:
            return m
    return None


def _decimal(m: re.Match[str], *, percent_above: float = 1.0) -> float:
    """A rate or volatility: "25%" and "25" are 0.25; "0.25" stays 0.25."""
    value = float(m.group("v"))
    pct = bool(m.groupdict().get("pct"))
    return value / 100 if pct or value > percent_above else value


def _pct_group() -> str:
    return r"\s*(?P<pct>%|percent|pct)?"


def _option_inputs(text: str) -> dict[str, Any]:
    low = text.lower()
    p: dict[str, Any] = {}
    if re.search(r"\bputs?\b", low):
        p["option_type"] = "put"
    elif re.search(r"\bcalls?\b", low):
        p["option_type"] = "call"
    v = r"(?P<v>\d+(?:\.\d+)?)"
    spot = _find(
        low,
        (
            rf"\b(?:spot|underlying|s|s0|stock(?:\s+price)?|share\s+price|price\s+of\s+the\s+stock)(?:\s+(?:price|is|at|trading\s+at|of))*{_SEP}\$?{v}",
            rf"\bon\s+an?\s+\$?{v}\s+(?:stock|share|underlying)\b",
            rf"\$?{v}\s+(?:spot|underlying)\b",
            rf"\bstock\s+(?:is\s+)?(?:trading\s+)?at\s+\$?{v}",
        ),
    )
    if spot:
        p["spot"] = float(spot["v"])
    strike = _find(
        low,
        (
            rf"\b(?:strike|k|struck(?:\s+at)?|exercise\s+price)(?:\s+price)?{_SEP}\$?{v}",
            rf"\$?{v}[\s-]*strike\b",
        ),
    )
    if strike:
        p["strike"] = float(strike["v"])
    elif re.search(r"\bat[\s-]the[\s-]money\b|\batm\b", low) and "spot" in p:
        p["strike"] = p["spot"]
    vol = _find(
        low,
        (
            rf"\b(?:vol|volatility|sigma|σ|iv)(?:\s+(?:is|at|of))?{_SEP}{v}{_pct_group()}",
            rf"\b{v}\s*(?P<pct>%|percent|pct)\s*(?:annual\s+)?(?:vol|volatility|sigma|iv)\b",
            rf"\b{v}\s+(?:vol|volatility)\b",
        ),
    )
    if vol:
        p["volatility"] = _decimal(vol)
    rate = _find(
        low,
        (
            rf"\b(?:risk[\s-]?free(?:\s+rate)?|interest(?:\s+rate)?|rates?|r)(?:\s+(?:is|at|of))?{_SEP}{v}{_pct_group()}",
            rf"\b{v}\s*(?P<pct>%|percent|pct)\s*(?:risk[\s-]?free|interest|rates?)\b",
        ),
    )
    if rate:
        p["rate"] = _decimal(rate, percent_above=0.999)
    div = _find(
        low,
        (
            rf"\b(?:dividend(?:\s+yield)?|div(?:\s+yield)?|q)(?:\s+(?:is|at|of))?{_SEP}{v}{_pct_group()}",
            rf"\b{v}\s*(?P<pct>%|percent|pct)\s*dividend",
        ),
    )
    if div:
        p["dividend_yield"] = _decimal(div, percent_above=0.999)
    mat = _find(
        low,
        (
            rf"\b(?:t|maturity|expiry|tenor|time\s+to\s+(?:expiry|maturity))(?:\s+(?:is|of))?{_SEP}{v}\s*(?P<u>years?|yrs?|y|months?|mo|weeks?|days?|d)?\b",
            rf"\b(?P<w>{NUM})[\s-]*(?P<u>years?|yrs?|months?|mo|weeks?|days?)\b(?!\s+(?:of\s+data|history))",
            r"\b(?P<half>half)[\s-]+(?:a[\s-]+)?(?P<u>year)\b",
            r"\b(?P<one>a|one)\s+(?P<u>year|month|week)\b",
        ),
    )
    if mat and mat.groupdict().get("half"):
        p["maturity"] = 0.5
    elif mat:
        raw = mat.groupdict().get("v") or mat.groupdict().get("w") or "1"
        unit = (mat.groupdict().get("u") or "y").lower()
        n = number_value(raw)
        if unit.startswith("mo"):
            n /= 12
        elif unit.startswith("w"):
            n /= 52
        elif unit.startswith("d"):
            n /= 365
        p["maturity"] = round(n, 10)
    if re.search(r"\bamerican\b", low):
        p["exercise"] = "american"
    steps = re.search(r"\b(\d[\d,]*)\s*(?:tree\s+)?steps\b", low)
    if steps:
        p["steps"] = int(steps[1].replace(",", ""))
    paths = re.search(r"\b(\d[\d,]*)\s*(k)?\s*(?:paths|simulations|sims|draws)\b", low)
    if paths:
        p["paths"] = int(paths[1].replace(",", "")) * (1000 if paths[2] else 1)
    seed = re.search(r"\bseed\s*(?:=|of)?\s*(\d+)", low)
    if seed:
        p["seed"] = int(seed[1])
    return p


def _price_option(t: Tagged) -> Slots:
    s = Slots()
    p = _option_inputs(t.text)
    low = t.text.lower()
    if re.search(r"\bmonte[\s-]*carlo\b|\bsimulat\w+\b|\bpaths\b", low):
        mid = "monte_carlo_option"
    elif re.search(r"\bbinomial\b|\bcrr\b|\btree\b|\bamerican\b", low):
        mid = "binomial_crr"
    else:
        mid = "black_scholes"
    if mid != "binomial_crr":
        p.pop("exercise", None)
        p.pop("steps", None)
    if mid != "monte_carlo_option":
        p.pop("paths", None)
        p.pop("seed", None)
    s.values = {"model_id": mid, **p}
    _require_spot_and_strike(s, t.text)
    return s


def _require_spot_and_strike(s: Slots, text: str) -> None:
    """An option is priced from the inputs given, never from a symbol's market data: without
    a spot and a strike, ask (a yes prices it with the model's documented defaults)."""
    missing = [k for k in ("spot", "strike") if k not in s.values]
    if not missing or re.search(r"defaults?", text, re.I):
        return
    s.problems.append(
        Problem(
            "option_inputs",
            f"What {' and '.join(missing)}? Option prices come from the inputs you give, for "
            "example 'spot 100 strike 105 vol 25% rate 4% 6 months'; say yes to use the "
            "model's defaults.",
            ["defaults"],
        )
    )


def _implied_vol(t: Tagged) -> Slots:
    s = Slots()
    text = t.text.lower()
    price = _find(
        text,
        (
            r"\b(?:priced|trading|trades|quoted|costs?|costing|worth|sells?|selling)(?:\s+(?:at|for))?\s*\$?(?P<v>\d+(?:\.\d+)?)",
            r"\b(?:price|premium|quote|market\s+price|option\s+price|call\s+price|put\s+price)\s*(?:of|is|=|:|at)?\s*\$?(?P<v>\d+(?:\.\d+)?)",
            r"\$?(?P<v>\d+(?:\.\d+)?)\s+(?:premium|call\s+premium|put\s+premium)",
            r"\b(?:call|put|option)\s+(?:is\s+)?at\s+\$?(?P<v>\d+(?:\.\d+)?)",
        ),
    )
    # the option's inputs, with the observed price taken out so it is not read as a spot
    rest = text[: price.start()] + " " + text[price.end() :] if price else text
    p = _option_inputs(rest)
    kind = _option_inputs(text).get("option_type")
    if kind:
        p["option_type"] = kind
    for key in ("volatility", "exercise", "steps", "paths", "seed"):
        p.pop(key, None)
    s.values = {"model_id": "implied_volatility", **p}
    if price:
        s.values["price"] = float(price["v"])
    else:
        s.problems.append(Problem("price", "What is the option's observed price?"))
    _require_spot_and_strike(s, t.text)
    return s


def _dates(t: Tagged, s: Slots) -> None:
    if t.dates.start:
        s.values["start"] = t.dates.start
    if t.dates.end:
        s.values["end"] = t.dates.end
    if t.dates.last:
        s.values["last"] = list(t.dates.last)


def _money(text: str) -> float | None:
    m = re.search(
        r"\$?\s*(?P<v>\d+(?:[.,]\d+)*)\s*(?P<u>k|thousand|m|mm|mn|million|bn|b|billion)?\s*(?:dollars?|usd)?\s*"
        r"(?:position|book|portfolio|notional|investment|exposure|holding)",
        text,
        re.I,
    ) or re.search(
        r"\$\s*(?P<v>\d+(?:[.,]\d+)*)\s*(?P<u>k|thousand|m|mm|mn|million|bn|b|billion)?\b",
        text,
        re.I,
    )
    if not m:
        return None
    value = float(m["v"].replace(",", ""))
    unit = (m["u"] or "").lower()
    scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6}
    scale |= {"bn": 1e9, "b": 1e9, "billion": 1e9}
    return value * scale.get(unit, 1.0)


def _var(t: Tagged) -> Slots:
    s = Slots()
    low = t.text.lower()
    if re.search(r"\bmonte[\s-]*carlo\b|\bsimulat\w+\b|\bbootstrap\w*\b", low):
        mid = "monte_carlo_var"
    elif re.search(
        r"\bcornish[\s-]*fisher\b|\bmodified\b|\bskew(?:ness)?[\s-]*adjusted\b|\bkurtosis\b", low
    ):
        mid = "var_cornish_fisher"
    elif re.search(
        r"\bparametric\b|\bnormal\b|\bgaussian\b|\bvariance[\s-]*covariance\b|\bdelta[\s-]*normal\b",
        low,
    ):
        mid = "var_parametric"
    else:
        mid = "var_historical"
    s.values["model_id"] = mid
    symbol_slots(t, s)
    conf = re.search(r"\b(?P<v>9\d(?:\.\d+)?)\s*(?:%|percent|pct)", low) or re.search(
        r"\bconfidence(?:\s+level)?\s*(?:of|=|:)?\s*(?P<v>0?\.\d+|9\d(?:\.\d+)?)", low
    )
    tail = re.search(r"\b(?P<v>\d(?:\.\d+)?)\s*(?:%|percent)\s*(?:level|tail|worst)", low)
    if conf:
        value = float(conf["v"])
        s.values["confidence"] = round(value / 100 if value > 1 else value, 10)
    elif tail:
        s.values["confidence"] = round(1 - float(tail["v"]) / 100, 10)
    horizon = re.search(
        rf"\b(?P<n>{NUM})[\s-]*(?P<u>days?|d|bars?|weeks?|months?)\b(?![\s-]*(?:of\s+data|history))",
        t.masked,
        re.I,
    ) or re.search(r"\bover\s+(?:a|one)\s+(?P<u>week|month|day)\b", low)
    if horizon:
        n = number_value(horizon.groupdict().get("n") or "1")
        unit = horizon["u"].lower()
        n *= 5 if unit.startswith("w") else 21 if unit.startswith("mo") else 1
        s.values["horizon_bars"] = int(n)
    elif re.search(r"\bweekly\b|\ba\s+week\b", low):
        s.values["horizon_bars"] = 5
    money = _money(t.text)
    if money is not None:
        s.values["position_value"] = money
    m = re.search(r"\bmethod\s*(?:=|:)?\s*(normal|bootstrap)\b", low)
    if mid == "monte_carlo_var":
        if m or re.search(r"\bnormal\b|\bgaussian\b", low):
            s.values["method"] = m[1] if m else "normal"
        paths = re.search(r"\b(\d[\d,]*)\s*(k)?\s*(?:paths|simulations|sims|draws)\b", low)
        if paths:
            s.values["paths"] = int(paths[1].replace(",", "")) * (1000 if paths[2] else 1)
    _dates(t, s)
    return s


def _capm(t: Tagged) -> Slots:
    s = Slots({"model_id": "capm"})
    syms = t.symbol_ids(exclude=("FF3",))
    market_m = re.search(
        r"\b(?:against|vs\.?|versus|relative\s+to|to|on)\s+(?:the\s+)?(?P<m>\S+(?:\s+\S+)?)",
        t.text,
        re.I,
    )
    market = None
    if len(syms) >= 2 and market_m:
        for span in t.symbols:
            if span.end > market_m.start("m") and span.value in syms:
                market = span.value
                break
    if market is not None:
        s.values["market"] = market
        syms = [x for x in syms if x != market]
    if len(syms) == 1:
        s.values["symbol"] = syms[0]
    elif len(syms) > 1:
        s.problems.append(Problem("symbol", f"Beta of which symbol: {' or '.join(syms)}?", syms))
    else:
        symbol_slots(t, s)
    rf = re.search(
        r"(?P<v>\d+(?:\.\d+)?)\s*(?P<pct>%|percent)\s*risk[\s-]?free|risk[\s-]?free(?:\s+rate)?\s*(?:of|=|at)?\s*(?P<w>\d+(?:\.\d+)?)\s*(?P<pct2>%)?",
        t.text,
        re.I,
    )
    if rf:
        raw = float(rf["v"] or rf["w"])
        s.values["risk_free_rate"] = raw / 100 if (rf["pct"] or rf["pct2"] or raw > 1) else raw
    _dates(t, s)
    return s


def _fama_french(t: Tagged) -> Slots:
    s = Slots({"model_id": "fama_french_3"})
    symbol_slots(t, s, exclude=("FF3",))
    _dates(t, s)
    return s


def _cointegration(t: Tagged) -> Slots:
    s = Slots({"model_id": "cointegration_engle_granger"})
    syms = t.symbol_ids()
    if len(syms) == 2:
        s.values["symbol_y"], s.values["symbol_x"] = syms
    elif len(syms) > 2:
        s.problems.append(Problem("symbols", f"Which two of {', '.join(syms)}?", syms))
    else:
        have = (
            f" {syms[0]} and which other symbol?"
            if syms
            else " Which two symbols? For example KO and PEP."
        )
        s.problems.append(
            Problem("symbols", "A cointegration test needs two price symbols:" + have)
        )
    low = t.text.lower()
    if re.search(r"\blog[\s-]*prices?\b", low):
        s.values["log_prices"] = True
    if re.search(r"\b(?:with\s+a\s+)?(?:time\s+)?trend\b", low):
        s.values["trend"] = "ct"
    lvl = re.search(r"\b(\d+(?:\.\d+)?)\s*%\s*(?:level|significance)", low)
    if lvl:
        s.values["significance"] = float(lvl[1]) / 100
    _dates(t, s)
    return s


_PORTFOLIO_KINDS = (
    ("portfolio_hrp", r"\bhrp\b|\bhierarchical\b"),
    ("portfolio_risk_parity", r"\brisk[\s-]*parity\b|\bequal[\s-]*risk\b"),
    (
        "portfolio_min_variance",
        r"\bmin(?:imum)?[\s-]*(?:variance|vol(?:atility)?|risk)\b|\bleast[\s-]*(?:risky|volatile|variance)\b|\blowest[\s-]*(?:risk|vol(?:atility)?|variance)\b|\bglobal\s+minimum\b",
    ),
    (
        "portfolio_mean_variance",
        r"\bmax(?:imum)?[\s-]*sharpe\b|\bmean[\s-]*variance\b|\btangency\b|\befficient\b|\bmarkowitz\b",
    ),
)


def _portfolio(t: Tagged) -> Slots:
    low = t.text.lower()
    mid = next((k for k, rx in _PORTFOLIO_KINDS if re.search(rx, low)), "portfolio_mean_variance")
    s = Slots({"model_id": mid})
    syms = t.symbol_ids()
    if len(syms) >= 2:
        s.values["symbols"] = syms
    else:
        s.problems.append(
            Problem(
                "symbols",
                "Which symbols should the portfolio hold (at least two, e.g. AAPL, MSFT, KO)?",
            )
        )
    rf = re.search(
        r"(\d+(?:\.\d+)?)\s*%\s*risk[\s-]?free|risk[\s-]?free(?:\s+rate)?\s*(?:of|=|at)?\s*(\d+(?:\.\d+)?)\s*%",
        low,
    )
    if rf:
        s.values["risk_free_rate"] = float(rf[1] or rf[2]) / 100
    _dates(t, s)
    return s


def _kelly(t: Tagged) -> Slots:
    s = Slots({"model_id": "kelly_fraction"})
    low = t.text.lower()
    win = re.search(
        r"\b(?P<v>\d+(?:\.\d+)?)\s*(?P<pct>%|percent)?\s*(?:win(?:ning)?\s+(?:probability|rate|chance)|chance\s+of\s+winning|probability\s+of\s+winning|of\s+the\s+time)"
        r"|(?:\bp\s*=|\bwin(?:ning)?\s+(?:probability|rate|chance)\s*(?:=|of|:)?)\s*(?P<w>\d*\.?\d+)\s*(?P<pct2>%)?"
        r"|\bwins\s+(?P<x>\d+(?:\.\d+)?)\s*%",
        low,
    )
    coin = re.search(r"\b(\d{2})\s*/\s*(\d{2})\s+coin", low)
    payoff = re.search(
        r"\b(?:payoff|pays?|odds\s+of|payout|b)\s*(?:ratio)?\s*(?:of|=|:)?\s*(?P<v>\d+(?:\.\d+)?)(?:\s*(?:to|:)\s*(?P<d>\d+(?:\.\d+)?))?"
        r"|\bat\s+(?P<a>\d+(?:\.\d+)?)\s*(?:to|:)\s*(?P<b>\d+(?:\.\d+)?)",
        low,
    )
    if re.search(r"\beven\s+(?:odds|payoff|money)\b", low):
        s.values["payoff_ratio"] = 1.0
    if payoff and "payoff_ratio" not in s.values:
        if payoff["v"]:
            num, den = float(payoff["v"]), float(payoff["d"] or 1)
        else:
            num, den = float(payoff["a"]), float(payoff["b"])
        s.values["payoff_ratio"] = num / den
    if win or coin:
        if coin:
            value = float(coin[1]) / 100
        elif win is not None:
            raw = win["v"] or win["w"] or win["x"]
            value = float(raw)
            pct = win["pct"] or win["pct2"] or win["x"] or value > 1
            value = value / 100 if pct else value
        s.values["win_probability"] = round(value, 10)
    if "win_probability" in s.values or "payoff_ratio" in s.values:
        s.values["method"] = "discrete"
        if "win_probability" not in s.values:
            s.problems.append(
                Problem("win_probability", "What is the probability of winning the bet?")
            )
        if "payoff_ratio" not in s.values:
            s.problems.append(
                Problem(
                    "payoff_ratio", "What does a win pay per unit staked (e.g. 1 for even odds)?"
                )
            )
    else:
        symbol_slots(t, s)
    frac = {"half": 0.5, "quarter": 0.25, "third": 1 / 3, "full": 1.0}
    m = re.search(r"\b(half|quarter|third|full)[\s-]*kelly\b", low)
    if m:
        if m[1] != "full":
            s.values["fraction"] = round(frac[m[1]], 10)
    else:
        m = re.search(r"\bfraction(?:al)?\s*(?:kelly)?\s*(?:of|=)?\s*(0?\.\d+)", low)
        if m:
            s.values["fraction"] = float(m[1])
    rf = re.search(
        r"(\d+(?:\.\d+)?)\s*%\s*risk[\s-]?free|risk[\s-]?free(?:\s+rate)?\s*(?:of|=|at)?\s*(\d+(?:\.\d+)?)\s*%",
        low,
    )
    if rf:
        s.values["risk_free_rate"] = float(rf[1] or rf[2]) / 100
    if s.values.get("method") != "discrete":
        _dates(t, s)
    return s


def _weights(t: Tagged) -> dict[str, float] | None:
    """Portfolio weights written with the symbols: "60% SPX 40% AAPL", "SPX 70, JNJ 30",
    "50/50 AAPL MSFT", "equal weights in A, B and C"."""
    syms = t.symbol_ids()
    if not syms:
        return None
    text = t.text
    low = text.lower()
    if re.search(r"\bequal(?:ly)?[\s-]*weight\w*|\bequal\s+weights\b|\beach\b|\bevenly\b", low) or (
        len(syms) >= 2 and re.search(r"\b\d{1,3}\s*%\s*each\b", low)
    ):
        w = round(1 / len(syms), 12)
        return {s: w for s in syms}
    m = re.search(r"\b(\d{1,3})\s*/\s*(\d{1,3})\b", text)
    if m and len(syms) == 2 and float(m[1]) + float(m[2]) == 100:
        return {syms[0]: float(m[1]) / 100, syms[1]: float(m[2]) / 100}
    out: dict[str, float] = {}
    first = t.symbols[0]
    leading = re.search(
        r"(\d{1,3}(?:\.\d+)?)\s*%?\s*(?:in|of)?\s*$", text[max(0, first.start - 12) : first.start]
    )
    for span in t.symbols:
        if leading:  # "60% SPX 40% AAPL": each weight before its symbol
            m = re.search(
                r"(\d{1,3}(?:\.\d+)?)\s*%?\s*(?:in|of)?\s*$",
                text[max(0, span.start - 12) : span.start],
            )
        else:  # "SPX 70, JNJ 30": after it
            m = re.match(r"\s*[:=]?\s*(\d{1,3}(?:\.\d+)?)\s*%?", text[span.end : span.end + 12])
        if m is not None:
            value = float(m[1])
            out[span.value] = value / 100 if value > 1 else value
    if out and len(out) == len(syms) and abs(sum(out.values()) - 1) < 1e-6:
        return out
    if len(syms) == 1 and not out:
        return {syms[0]: 1.0}
    if len(syms) == 1 and out and abs(sum(out.values()) - 1) < 1e-6:
        return out
    return None


def _stress(t: Tagged) -> Slots:
    s = Slots({"model_id": "stress_test_historical"})
    low = t.text.lower()
    if re.search(r"\bcovid\b|\bpandemic\b|\b2020\b|\bmarch\s+2020\b|\bcorona", low):
        s.values["scenario"] = "covid_2020"
    elif re.search(
        r"\b2008\b|\bgfc\b|\bfinancial\s+crisis\b|\blehman\b|\bsubprime\b|\bcredit\s+crunch\b", low
    ):
        s.values["scenario"] = "gfc_2008"
    elif t.dates.start and t.dates.end:
        s.values.update({"scenario": "custom", "start": t.dates.start, "end": t.dates.end})
    else:
        s.problems.append(
            Problem(
                "scenario",
                "Which crisis: the 2008 financial crisis, the 2020 covid crash, or a custom window (from ... to ...)?",
            )
        )
    w = _weights(t)
    if w is None:
        s.problems.append(
            Problem(
                "weights",
                "What are the portfolio's weights? For example '60% SPX, 40% AAPL' or 'equal weights in AAPL, MSFT, KO'.",
            )
        )
    else:
        s.values["weights"] = w
    return s


def _drawdown(t: Tagged) -> Slots:
    s = Slots({"model_id": "drawdown_analytics"})
    symbol_slots(t, s)
    m = re.search(
        rf"\b(?:top|the|largest|biggest|deepest|worst)?\s*(?P<n>{NUM})\s+(?:deepest|largest|biggest|worst)?\s*(?:draw[\s-]?downs|falls|declines)\b",
        t.masked,
        re.I,
    )
    if m:
        n = int(number_value(m["n"]))
        if n != 5:
            s.values["top_n"] = n
        elif n == 5:
            s.values["top_n"] = 5
    _dates(t, s)
    return s


def _sharpe(t: Tagged) -> Slots:
    s = Slots({"model_id": "sharpe_ratio_stats"})
    symbol_slots(t, s)
    low = t.text.lower()
    bench = re.search(
        r"\b(?:against|versus|vs\.?|benchmark(?:\s+sharpe)?(?:\s+of)?|beat)\s+(?:a\s+)?(?:benchmark\s+)?(?:sharpe(?:\s+(?:ratio\s+)?of)?\s*)?(?P<v>\d+(?:\.\d+)?)\b",
        low,
    )
    if bench:
        s.values["benchmark_sharpe"] = float(bench["v"])
    rf = re.search(
        r"(\d+(?:\.\d+)?)\s*%\s*risk[\s-]?free|risk[\s-]?free(?:\s+rate)?\s*(?:of|=|at)?\s*(\d+(?:\.\d+)?)\s*%",
        low,
    )
    if rf:
        s.values["risk_free_rate"] = float(rf[1] or rf[2]) / 100
    _dates(t, s)
    return s


READERS = {
    "price_option": _price_option,
    "implied_vol": _implied_vol,
    "var": _var,
    "capm": _capm,
    "fama_french": _fama_french,
    "cointegration": _cointegration,
    "portfolio": _portfolio,
    "kelly": _kelly,
    "stress_test": _stress,
    "drawdown": _drawdown,
    "sharpe_stats": _sharpe,
}
"""Financial intent -> its slot reader."""


def financial_slots(intent: str, t: Tagged) -> Slots:
    return READERS[intent](t)
