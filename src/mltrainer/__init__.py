"""mlTrainer: ML trading research on real market data, with compliance and an audit trail.

``__version__`` is read from the installed package metadata on first use only: reading
it costs tens of milliseconds that every command, ``--help`` included, would pay.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("mltrainer")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
