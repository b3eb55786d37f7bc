"""What a data set is and where it came from, without pandas.

Split from :mod:`mltrainer.data.market` so that reading provenance records (``data
list``, the catalogue of imported files) does not load pandas, which costs about half a
second of every command's start-up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Kind", "Provenance"]

Kind = Literal["ohlcv", "price", "economic", "factors"]


class Provenance(BaseModel):
    """Where a data set came from; ``sha256`` is :func:`content_hash` of the frame."""

    source: str
    dataset: str = Field(description="bundled dataset, vendor query, or imported file name")
    symbol: str
    interval: str
    fetched_at: str
    sha256: str
    rows: int
    first: str = Field(description="first timestamp, ISO 8601")
    last: str = Field(description="last timestamp, ISO 8601")
    package: str | None = None
    package_version: str | None = None
    vendor: str | None = None
    file_sha256: str | None = None
    note: str | None = None
