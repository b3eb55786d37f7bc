"""Tier 3 of the bridge: ``key: value`` lines ("Symbol: AAPL", "Model: random_forest").

A block is a run of consecutive lines whose keys the bridge knows (see
:data:`.fields.KEY_SYNONYMS`, plus actions and result keys, which mark a block as a report);
markdown emphasis, bullets and numbering are ignored, and a repeated key starts a new block.
"""

from __future__ import annotations

import re

from .fields import KEY_SYNONYMS, KV_EXTRA_KEYS
from .readers import MARKDOWN_RE, norm_key

__all__ = ["kv_blocks"]

_KV_RE = re.compile(
    r"^[ \t]*(?:[-*+•>][ \t]+|\d{1,2}[.)][ \t]+)?"
    r"([A-Za-z][A-Za-z0-9 _/()%-]{0,40}?)[ \t]*[:=][ \t]*(\S.*?)[ \t]*$"
)


def kv_blocks(text: str) -> list[list[tuple[str, str, str]]]:
    """Runs of ``key: value`` lines with known keys; a repeated key starts a new run."""
    blocks: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _KV_RE.match(MARKDOWN_RE.sub("", line))
        nk = norm_key(m.group(1)) if m else ""
        canon = KEY_SYNONYMS.get(nk) or (nk if nk in KV_EXTRA_KEYS else None)
        if m is None or canon is None:
            if current:
                blocks.append(current)
            current, seen = [], set()
            continue
        if canon in seen:
            blocks.append(current)
            current, seen = [], set()
        current.append((m.group(1).strip(), m.group(2).strip(), line.strip()))
        seen.add(canon)
    if current:
        blocks.append(current)
    return blocks
