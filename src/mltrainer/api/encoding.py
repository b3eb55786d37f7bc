"""JSON as every response writes it: NaN and infinities become ``null``.

An undefined metric (a Sharpe ratio with no variance) is ``null`` on the wire, not an error
and not the non-standard ``NaN`` token that strict JSON parsers refuse."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["finite", "FiniteJSONResponse"]


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by ``None``, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


class FiniteJSONResponse(JSONResponse):
    """JSON with NaN and infinities as ``null`` (an undefined metric is null, not an error)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(finite(content), ensure_ascii=False, separators=(",", ":")).encode()
