"""Capping native thread pools (BLAS, OpenMP) around a fit or predict, cheaply.

``threadpoolctl.threadpool_limits`` finds the loaded libraries afresh on every call: about
7 ms here, which is more than a ridge fit on a few thousand rows, and a walk-forward trial
caps threads around every fold's fit and predict. A ``ThreadpoolController`` found once
limits in about 0.07 ms. Native libraries arrive with Python imports (numpy, scipy,
scikit-learn, LightGBM, torch), so the controller is found again whenever ``sys.modules``
has grown since: a library imported later is still capped.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

__all__ = ["limit_threads"]

_lock = threading.Lock()
_cached: tuple[int, ThreadpoolController] | None = None


def _controller() -> ThreadpoolController:
    global _cached
    from threadpoolctl import ThreadpoolController

    with _lock:
        n = len(sys.modules)
        if _cached is None or _cached[0] != n:
            _cached = (n, ThreadpoolController())
        return _cached[1]


def limit_threads(
    n_threads: int | None, user_api: str | None = None
) -> contextlib.AbstractContextManager[Any]:
    """Cap native thread pools at ``n_threads`` inside the block (``None``: no cap);
    ``user_api`` ``"blas"`` or ``"openmp"`` caps only that kind."""
    if n_threads is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=n_threads, user_api=user_api)
