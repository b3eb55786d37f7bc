"""Option pricing: Black-Scholes(-Merton), implied volatility, CRR binomial tree, Monte Carlo.

All rates are continuously compounded annual decimals (``rate=0.05`` is 5 % a year),
``volatility`` is the annual standard deviation of log returns (``0.2`` = 20 %), and
``maturity`` is in years (``0.5`` = six months). Prices are in the currency of ``spot``.

Example: ``black_scholes_price(100, 100, 0.05, 0.2, 1.0, 0.0, "call")`` is ``10.4506``
(Hull, *Options, Futures and Other Derivatives*, the standard at-the-money example).

:func:`run_monte_carlo_option` is the only place in mlTrainer that draws random numbers.
Its output is labelled ``"simulation": True`` with the seed and path count; it is a pricing
estimate, never training data.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.optimize import brentq
from scipy.stats import norm

from ..errors import ModelError
from .base import Fetch, FinancialSpec, Params

__all__ = [
    "SPECS",
    "OptionParams",
    "black_scholes_price",
    "black_scholes_greeks",
    "crr_price",
]

OptionType = Literal["call", "put"]


class ContractParams(Params):
    """Contract and market inputs shared by every option model (volatility aside)."""

    spot: float = Field(100.0, gt=0, description="underlying price now, currency units (100.0)")
    strike: float = Field(100.0, gt=0, description="strike price, currency units (100.0)")
    rate: float = Field(
        0.05,
        ge=-1.0,
        le=1.0,
        description="risk-free rate, continuously compounded, annual decimal (0.05 = 5% a year)",
    )
    maturity: float = Field(
        1.0, gt=0, le=100.0, description="time to expiry in years (0.5 = six months)"
    )
    dividend_yield: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="continuous dividend yield, annual decimal (0.02 = 2% a year)",
    )
    option_type: OptionType = Field("call", description="'call' or 'put'")


class OptionParams(ContractParams):
    """Contract inputs plus the volatility: everything a pricer needs."""

    volatility: float = Field(
        0.2, gt=0, le=10.0, description="annual volatility of log returns, decimal (0.2 = 20%)"
    )


def _d1_d2(s: float, k: float, r: float, sigma: float, t: float, q: float) -> tuple[float, float]:
    sqrt_t = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    return d1, d1 - sigma * sqrt_t


def black_scholes_price(
    s: float, k: float, r: float, sigma: float, t: float, q: float, option_type: OptionType
) -> float:
    """European option price under Black-Scholes-Merton with continuous dividend yield ``q``.

    ``black_scholes_price(100, 100, 0.05, 0.2, 1.0, 0.0, "call") -> 10.4506``.
    """
    d1, d2 = _d1_d2(s, k, r, sigma, t, q)
    df_r, df_q = math.exp(-r * t), math.exp(-q * t)
    if option_type == "call":
        return s * df_q * norm.cdf(d1) - k * df_r * norm.cdf(d2)
    return k * df_r * norm.cdf(-d2) - s * df_q * norm.cdf(-d1)


def black_scholes_greeks(
    s: float, k: float, r: float, sigma: float, t: float, q: float, option_type: OptionType
) -> dict[str, float]:
    """Analytic Greeks.

    Units: ``delta`` per 1 unit of spot, ``gamma`` per unit of spot squared, ``vega`` per 1.00
    of volatility (divide by 100 for one vol point), ``theta`` per year of calendar time
    passing (``dV/dt = -dV/dT``; divide by 365 for a day), ``rho`` per 1.00 of rate (divide
    by 100 for one percentage point).
    """
    d1, d2 = _d1_d2(s, k, r, sigma, t, q)
    sqrt_t = math.sqrt(t)
    df_r, df_q = math.exp(-r * t), math.exp(-q * t)
    pdf_d1 = norm.pdf(d1)
    gamma = df_q * pdf_d1 / (s * sigma * sqrt_t)
    vega = s * df_q * pdf_d1 * sqrt_t
    decay = -s * df_q * pdf_d1 * sigma / (2 * sqrt_t)
    if option_type == "call":
        delta = df_q * norm.cdf(d1)
        theta = decay - r * k * df_r * norm.cdf(d2) + q * s * df_q * norm.cdf(d1)
        rho = k * t * df_r * norm.cdf(d2)
    else:
        delta = -df_q * norm.cdf(-d1)
        theta = decay + r * k * df_r * norm.cdf(-d2) - q * s * df_q * norm.cdf(-d1)
        rho = -k * t * df_r * norm.cdf(-d2)
    return {
        "delta": float(delta),
        "gamma": float(gamma),
        "vega": float(vega),
        "theta": float(theta),
        "rho": float(rho),
    }


def _contract(p: OptionParams) -> tuple[float, float, float, float, float, float, OptionType]:
    return p.spot, p.strike, p.rate, p.volatility, p.maturity, p.dividend_yield, p.option_type


# ----------------------------------------------------------------------------- Black-Scholes


def run_black_scholes(p: OptionParams, fetch: Fetch) -> dict:
    args = _contract(p)
    d1, d2 = _d1_d2(*args[:6])
    greeks = black_scholes_greeks(*args)
    return {
        "price": black_scholes_price(*args),
        **greeks,
        "vega_per_vol_point": greeks["vega"] / 100,
        "theta_per_day": greeks["theta"] / 365,
        "rho_per_rate_point": greeks["rho"] / 100,
        "d1": d1,
        "d2": d2,
        "units": {
            "price": "currency units of spot",
            "delta": "change in price per 1 unit of spot",
            "gamma": "change in delta per 1 unit of spot",
            "vega": "change in price per 1.00 (100 points) of volatility",
            "theta": "change in price per year of time passing (theta_per_day: per calendar day)",
            "rho": "change in price per 1.00 (100 points) of the rate",
        },
    }


# ---------------------------------------------------------------------- implied volatility


class ImpliedVolParams(ContractParams):
    """Option inputs with an observed ``price`` in place of a volatility."""

    price: float = Field(10.4506, gt=0, description="observed option price, currency units")
    lower: float = Field(1e-6, gt=0, description="lowest volatility searched, annual decimal")
    upper: float = Field(5.0, gt=0, le=10.0, description="highest volatility searched (5.0 = 500%)")
    tolerance: float = Field(1e-12, gt=0, le=1e-4, description="brentq absolute tolerance on sigma")

    @model_validator(mode="after")
    def _bracket(self) -> ImpliedVolParams:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self


def implied_volatility(
    price: float,
    s: float,
    k: float,
    r: float,
    t: float,
    q: float,
    option_type: OptionType,
    *,
    lower: float = 1e-6,
    upper: float = 5.0,
    xtol: float = 1e-12,
) -> tuple[float, int]:
    """Black-Scholes implied volatility by Brent's method, and the iteration count.

    ``implied_volatility(10.4506, 100, 100, 0.05, 1.0, 0.0, "call")[0] -> 0.2000``.
    Raises :class:`ModelError` if the price is outside the no-arbitrage bounds or the
    volatility is outside ``[lower, upper]``.
    """
    fwd_s, pv_k = s * math.exp(-q * t), k * math.exp(-r * t)
    lo_bound, hi_bound = (
        (max(fwd_s - pv_k, 0.0), fwd_s) if option_type == "call" else (max(pv_k - fwd_s, 0.0), pv_k)
    )
    if not lo_bound < price < hi_bound:
        raise ModelError(
            f"a {option_type} price of {price} is outside the no-arbitrage range "
            f"({lo_bound:.6g}, {hi_bound:.6g}) for these inputs; no volatility reproduces it"
        )

    def gap(sigma: float) -> float:
        return black_scholes_price(s, k, r, sigma, t, q, option_type) - price

    g_lo, g_hi = gap(lower), gap(upper)
    if g_lo > 0 or g_hi < 0:
        raise ModelError(
            f"the implied volatility lies outside [{lower}, {upper}] "
            f"(model prices {gap(lower) + price:.6g} .. {gap(upper) + price:.6g}); "
            "widen 'lower'/'upper'"
        )
    sigma, info = brentq(gap, lower, upper, xtol=xtol, full_output=True)
    if not info.converged:
        raise ModelError(f"brentq did not converge: {info.flag}")
    return float(sigma), int(info.iterations)


def run_implied_volatility(p: ImpliedVolParams, fetch: Fetch) -> dict:
    s, k, r, t, q, kind = p.spot, p.strike, p.rate, p.maturity, p.dividend_yield, p.option_type
    sigma, iters = implied_volatility(
        p.price, s, k, r, t, q, kind, lower=p.lower, upper=p.upper, xtol=p.tolerance
    )
    repriced = black_scholes_price(s, k, r, sigma, t, q, kind)
    return {
        "implied_volatility": sigma,
        "iterations": iters,
        "repriced": repriced,
        "pricing_error": repriced - p.price,
        "vega_at_solution": black_scholes_greeks(s, k, r, sigma, t, q, kind)["vega"],
        "method": "brentq on the Black-Scholes-Merton price",
    }


# -------------------------------------------------------------------------- CRR binomial tree


class BinomialParams(OptionParams):
    steps: int = Field(500, ge=1, le=10_000, description="number of tree steps (time steps)")
    exercise: Literal["european", "american"] = Field(
        "european", description="'european' (expiry only) or 'american' (any step)"
    )


def crr_price(
    s: float,
    k: float,
    r: float,
    sigma: float,
    t: float,
    q: float,
    option_type: OptionType,
    steps: int,
    american: bool,
) -> tuple[float, float, float]:
    """Cox-Ross-Rubinstein tree price, and delta and gamma read off the first two steps.

    ``u = exp(sigma*sqrt(dt))``, ``d = 1/u``, risk-neutral ``p = (exp((r-q)dt) - d)/(u - d)``.
    Gamma needs two steps and is NaN for a one-step tree.
    """
    dt = t / steps
    u = math.exp(sigma * math.sqrt(dt))
    d = 1.0 / u
    growth = math.exp((r - q) * dt)
    p_up = (growth - d) / (u - d)
    if not 0.0 < p_up < 1.0:
        raise ModelError(
            f"risk-neutral probability {p_up:.4f} is outside (0, 1) for {steps} steps; the "
            "tree is not arbitrage-free for these inputs: use more steps"
        )
    disc = math.exp(-r * dt)
    sign = 1.0 if option_type == "call" else -1.0
    j = np.arange(steps + 1)
    values = np.maximum(sign * (s * u ** (2 * j - steps) - k), 0.0)
    levels: dict[int, np.ndarray] = {steps: values} if steps <= 2 else {}
    for i in range(steps - 1, -1, -1):
        values = disc * (p_up * values[1:] + (1.0 - p_up) * values[:-1])
        if american:
            spots = s * u ** (2 * np.arange(i + 1) - i)
            values = np.maximum(values, sign * (spots - k))
        if i in (1, 2):
            levels[i] = values
    price = float(values[0])
    v1 = levels[1]
    delta = float((v1[1] - v1[0]) / (s * (u - d)))
    if 2 not in levels:
        return price, delta, math.nan
    v2 = levels[2]
    s_dd, s_ud, s_uu = s * d * d, s, s * u * u
    d_up = (v2[2] - v2[1]) / (s_uu - s_ud)
    d_dn = (v2[1] - v2[0]) / (s_ud - s_dd)
    gamma = float((d_up - d_dn) / (0.5 * (s_uu - s_dd)))
    return price, delta, gamma


def run_binomial_crr(p: BinomialParams, fetch: Fetch) -> dict:
    args = _contract(p)
    american = p.exercise == "american"
    price, delta, gamma = crr_price(*args, p.steps, american)
    out: dict = {"price": price, "delta": delta, "gamma": gamma, "steps": p.steps}
    notes = []
    if math.isnan(gamma):
        notes.append("gamma needs a tree of at least 2 steps")
    if american:
        euro, _, _ = crr_price(*args, p.steps, False)
        out["european_price"] = euro
        out["early_exercise_premium"] = price - euro
    out["black_scholes_price"] = black_scholes_price(*args)
    out["notes"] = notes
    return out


# ----------------------------------------------------------------------------- Monte Carlo


class MonteCarloOptionParams(OptionParams):
    paths: int = Field(
        100_000, ge=2, le=2_000_000, description="number of simulated terminal prices"
    )
    seed: int = Field(
        12345, ge=0, description="seed for numpy.random.default_rng; same seed, same price"
    )
    antithetic: bool = Field(
        True, description="pair each normal draw z with -z (variance reduction)"
    )

    @model_validator(mode="after")
    def _even_paths(self) -> MonteCarloOptionParams:
        if self.antithetic and self.paths % 2:
            raise ValueError(f"paths must be even with antithetic variates (got {self.paths})")
        return self


def run_monte_carlo_option(p: MonteCarloOptionParams, fetch: Fetch) -> dict:
    s, k, r, sigma, t, q, kind = _contract(p)
    rng = np.random.default_rng(p.seed)
    draws = p.paths // 2 if p.antithetic else p.paths
    z = rng.standard_normal(draws)
    drift = (r - q - 0.5 * sigma * sigma) * t
    vol = sigma * math.sqrt(t)
    sign = 1.0 if kind == "call" else -1.0
    disc = math.exp(-r * t)

    def payoff(zz: np.ndarray) -> np.ndarray:
        return disc * np.maximum(sign * (s * np.exp(drift + vol * zz) - k), 0.0)

    # With antithetic variates the independent samples are the pair averages.
    samples = 0.5 * (payoff(z) + payoff(-z)) if p.antithetic else payoff(z)
    price = float(samples.mean())
    std_error = float(samples.std(ddof=1) / math.sqrt(len(samples)))
    return {
        "price": price,
        "std_error": std_error,
        "ci95": [price - 1.959963984540054 * std_error, price + 1.959963984540054 * std_error],
        "black_scholes_price": black_scholes_price(s, k, r, sigma, t, q, kind),
        "simulation": True,
        "paths": p.paths,
        "seed": p.seed,
        "antithetic": p.antithetic,
        "generator": "numpy.random.default_rng (PCG64)",
        "notes": [
            "simulated estimate under geometric Brownian motion; not market data and never "
            "used as training data"
        ],
    }


SPECS = [
    FinancialSpec(
        id="black_scholes",
        category="pricing",
        task="pricing",
        description="Black-Scholes-Merton European option price and Greeks with dividend yield",
        params=OptionParams,
        run=run_black_scholes,
        needs_data=False,
    ),
    FinancialSpec(
        id="implied_volatility",
        category="pricing",
        task="pricing",
        description="Black-Scholes implied volatility of an observed option price (Brent's method)",
        params=ImpliedVolParams,
        run=run_implied_volatility,
        needs_data=False,
    ),
    FinancialSpec(
        id="binomial_crr",
        category="pricing",
        task="pricing",
        description="Cox-Ross-Rubinstein binomial tree price for European or American options",
        params=BinomialParams,
        run=run_binomial_crr,
        needs_data=False,
    ),
    FinancialSpec(
        id="monte_carlo_option",
        category="pricing",
        task="pricing",
        description="Seeded Monte Carlo GBM price of a European option with antithetic variates",
        params=MonteCarloOptionParams,
        run=run_monte_carlo_option,
        needs_data=False,
    ),
]
