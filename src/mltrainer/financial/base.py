"""Shared pieces of the financial models: the spec type, parameter base, data and JSON helpers.

A :class:`FinancialSpec` is frozen data (id, category, task, description, a pydantic
parameter model and a ``run`` function). ``run(params, fetch)`` returns a plain dict; the
registry (:mod:`mltrainer.financial.registry`) validates parameters, calls it and makes the
result JSON-safe.

``fetch(symbol, start, end) -> MarketData`` is how every model reads market data. The
caller passes a function that goes through the compliance-checked data service; tests pass
``lambda s, a, b: BundledSource().fetch(s, start=a, end=b)``.

Conventions used by every module here:

* rates, returns and volatilities are decimals: ``rate=0.05`` is 5 % a year;
* "annual" figures are scaled with ``periods_per_year``; when the user does not give it, it
  is the bars per year of the data actually loaded (:func:`annualisation`, the same source
  the walk-forward engine uses: 252 for daily stock data, 12 for monthly, ~6,261 for 24x5
  hourly FX), and the figure used is reported with how it was obtained;
* a quantity that is undefined for the inputs is ``NaN`` inside ``run`` and ``None`` in the
  returned JSON, with a reason in ``"notes"``; numbers are never invented.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ..data.intervals import bar_frequency
from ..data.market import MarketData
from ..errors import DataError

__all__ = [
    "FinancialSpec",
    "Fetch",
    "Params",
    "Symbol",
    "Category",
    "FinancialTask",
    "CATEGORIES",
    "TASKS",
    "PriceSeries",
    "PriceFrame",
    "load_prices",
    "load_price_frame",
    "annualisation",
    "PeriodsPerYear",
    "iso",
    "to_jsonable",
]

Category = Literal["pricing", "portfolio", "risk", "factor", "statistics"]
FinancialTask = Literal["pricing", "portfolio", "risk"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
TASKS: tuple[str, ...] = FinancialTask.__args__  # type: ignore[attr-defined]

Fetch = Callable[[str, str | None, str | None], MarketData]
"""``fetch(symbol, start, end)`` with ISO dates (``"2015-01-01"``) or ``None`` for open ends."""


PeriodsPerYear = Annotated[
    float | None,
    Field(
        gt=0,
        le=1_000_000,
        description="bars per year used to annualise; default (None): measured from the "
        "data's timestamps (252 for daily stock data, 12 for monthly, ~6261 for 24x5 hourly)",
    ),
]
"""An optional ``periods_per_year`` parameter; ``None`` means "from the data"."""


def annualisation(given: float | None, index: pd.Index, interval: str | None) -> dict[str, Any]:
    """``{"periods_per_year": ..., "periods_per_year_source": ...}`` for a result.

    ``given`` (the user's value) wins; otherwise :func:`bar_frequency` of the returns'
    timestamps and the data's interval (``None`` for series of mixed intervals).
    """
    if given is not None:
        return {"periods_per_year": float(given), "periods_per_year_source": "given"}
    freq = bar_frequency(index, interval)
    return {"periods_per_year": freq.periods_per_year, "periods_per_year_source": freq.source}


Symbol = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(str.upper),
]
"""A market symbol such as ``"AAPL"``; whitespace is stripped and letters upper-cased."""


class Params(BaseModel):
    """Base for every parameter model: unknown names are rejected, instances are immutable,
    and every number must be finite (NaN or inf is an input error, never a silent None)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class FinancialSpec(Generic[P]):
    """One financial model; ``run`` receives a validated instance of ``params``.

    Example: ``FinancialSpec(id="black_scholes", category="pricing", task="pricing",
    description="...", params=BlackScholesParams, run=run_black_scholes, needs_data=False)``.
    """

    id: str
    category: str
    task: str
    description: str
    params: type[P]
    run: Callable[[P, Fetch], dict]
    needs_data: bool

    def __post_init__(self) -> None:
        if not self.id.replace("_", "").isalnum() or self.id != self.id.lower():
            raise ValueError(f"financial model id '{self.id}' must be snake_case")
        if self.category not in CATEGORIES:
            raise ValueError(f"financial model {self.id}: unknown category {self.category}")
        if self.task not in TASKS:
            raise ValueError(f"financial model {self.id}: unknown task {self.task}")

    def defaults(self) -> dict[str, Any]:
        """Default parameter values (JSON form); required parameters are left out."""
        return {
            name: to_jsonable(f.get_default(call_default_factory=True))
            for name, f in self.params.model_fields.items()
            if not f.is_required()
        }

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description: id, category, task, needs_data and the parameter schema."""
        return {
            "id": self.id,
            "category": self.category,
            "task": self.task,
            "description": self.description,
            "needs_data": self.needs_data,
            "params": self.params.model_json_schema(),
        }


def iso(d: date | datetime | pd.Timestamp | None) -> str | None:
    """``date(2015, 1, 2) -> "2015-01-02"``; ``None`` stays ``None``."""
    if d is None:
        return None
    if isinstance(d, pd.Timestamp | datetime):
        return d.date().isoformat() if d == pd.Timestamp(d).normalize() else d.isoformat()
    return d.isoformat()


@dataclass(frozen=True)
class PriceSeries:
    """A price (or value) series read through ``fetch`` with the provenance hash."""

    symbol: str
    close: pd.Series
    sha256: str
    data: MarketData


def load_prices(
    fetch: Fetch, symbol: str, start: date | None, end: date | None, *, min_rows: int = 3
) -> PriceSeries:
    """Closing prices of ``symbol`` between ``start`` and ``end`` (inclusive).

    Economic and factor series are refused: return-based analytics need a price level.
    """
    md = fetch(symbol, iso(start), iso(end))
    if md.kind not in ("ohlcv", "price"):
        raise DataError(
            f"{md.symbol} is a {md.kind} series, not prices; choose a price symbol such as "
            "SPX or AAPL"
        )
    close = md.close.dropna().astype("float64")
    if len(close) < min_rows:
        raise DataError(
            f"{md.symbol}: only {len(close)} prices between {iso(start) or 'the beginning'} and "
            f"{iso(end) or 'the end'}; at least {min_rows} are needed"
        )
    return PriceSeries(md.symbol, close.rename(md.symbol), md.provenance.sha256, md)


class PriceFrame(NamedTuple):
    """Closes on common dates, provenance hashes, notes, and the shared bar interval
    (``None`` when the symbols' intervals differ)."""

    frame: pd.DataFrame
    hashes: dict[str, str]
    notes: list[str]
    interval: str | None


def load_price_frame(
    fetch: Fetch,
    symbols: list[str] | tuple[str, ...],
    start: date | None,
    end: date | None,
    *,
    min_rows: int = 3,
) -> PriceFrame:
    """Closes of several symbols on their common dates, provenance hashes and notes.

    Only dates on which every symbol has a price are kept (an inner join): nothing is
    filled in. A note says how many rows the alignment dropped.
    """
    series: dict[str, pd.Series] = {}
    hashes: dict[str, str] = {}
    intervals: set[str] = set()
    for s in symbols:
        ps = load_prices(fetch, s, start, end, min_rows=min_rows)
        if ps.symbol in series:
            raise DataError(f"symbol {ps.symbol} is listed twice; list each symbol once")
        series[ps.symbol] = ps.close
        hashes[ps.symbol] = ps.sha256
        intervals.add(ps.data.interval)
    frame = pd.concat(series, axis=1, join="inner").dropna()
    notes: list[str] = []
    longest = max(len(v) for v in series.values())
    if len(frame) < min_rows:
        raise DataError(
            f"{', '.join(series)} share only {len(frame)} dates between "
            f"{iso(start) or 'the beginning'} and {iso(end) or 'the end'}; "
            f"at least {min_rows} are needed"
        )
    if len(frame) < longest:
        notes.append(
            f"aligned on {len(frame)} dates common to all symbols ({longest - len(frame)} "
            "dates of the longest series dropped; nothing was filled in)"
        )
    return PriceFrame(frame, hashes, notes, intervals.pop() if len(intervals) == 1 else None)


def _is_bad_float(x: float) -> bool:
    return math.isnan(x) or math.isinf(x)


def to_jsonable(obj: Any, path: str = "", undefined: list[str] | None = None) -> Any:
    """A JSON-safe copy of ``obj``: numpy scalars to Python, NaN/inf to ``None``, dates to ISO.

    The dotted paths of values turned into ``None`` are appended to ``undefined``.
    """
    if isinstance(obj, Mapping):
        return {
            str(k): to_jsonable(v, f"{path}.{k}" if path else str(k), undefined)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple | np.ndarray | pd.Index):
        return [to_jsonable(v, f"{path}[{i}]", undefined) for i, v in enumerate(obj)]
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict(), path, undefined)
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        if _is_bad_float(x):
            if undefined is not None:
                undefined.append(path)
            return None
        return x
    if obj is None:
        return None
    if obj is pd.NaT:
        if undefined is not None:
            undefined.append(path)
        return None
    if isinstance(obj, date | datetime | pd.Timestamp):
        return iso(obj)
    if isinstance(obj, str):
        return obj
    if isinstance(obj, BaseModel):
        return to_jsonable(obj.model_dump(mode="json"), path, undefined)
    raise TypeError(f"cannot serialise {type(obj).__name__} at '{path}' to JSON")
