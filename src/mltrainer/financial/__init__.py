"""Financial models: option pricing, portfolio optimisation, risk, factor and pair statistics.

Each model is a :class:`FinancialSpec` in :data:`FINANCIAL`, run through
:func:`run_financial` with a ``fetch(symbol, start, end) -> MarketData`` function that
reads real data through the compliance-checked data service::

    run_financial("var_historical", fetch, symbol="SPX", confidence=0.99)

Results are JSON-safe dicts; data-driven results carry ``"data": {symbol: sha256}`` so
they can be reproduced. Only the explicitly labelled Monte Carlo models draw random
numbers.
"""

from .base import Fetch, FinancialSpec, to_jsonable
from .registry import FINANCIAL, run_financial, suggest

__all__ = ["FINANCIAL", "FinancialSpec", "Fetch", "run_financial", "suggest", "to_jsonable"]
