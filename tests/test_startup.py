"""Start-up stays light: what a command imports, checked in a fresh interpreter.

Timings belong in ``benchmarks/bench_cli_start.py``; these tests check the mechanism that
makes them possible (heavy modules imported where they are used), which a stray
module-level import would silently undo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
sys.argv = ["mltrainer", *json.loads(sys.argv[1])]
from mltrainer.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if "." not in m)), file=sys.stderr)
"""


def _top_level_modules(home: Path, *args: str) -> set[str]:
    env = {**os.environ, "MLTRAINER_HOME": str(home)}
    env.pop("MLTRAINER_DATABASE_URL", None)
    p = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return set(json.loads(p.stderr.strip().splitlines()[-1]))


def test_help_loads_no_settings_database_or_data_libraries(tmp_path: Path):
    loaded = _top_level_modules(tmp_path / "home", "--help")
    assert not loaded & {"pandas", "numpy", "scipy", "sqlalchemy", "alembic", "pydantic"}


def test_data_list_on_an_upgraded_home_loads_neither_pandas_nor_alembic(tmp_path: Path):
    home = tmp_path / "home"
    first = _top_level_modules(home, "data", "list")  # creates the schema and the summary
    assert "alembic" in first
    again = _top_level_modules(home, "data", "list")
    assert not again & {"pandas", "alembic", "scipy", "sklearn"}, again
