"""CLI start-up time: ``mltrainer --help``, ``data list`` and ``models list`` against bare Python.

Each command runs as a fresh process (the way a user runs it) in one temporary
``MLTRAINER_HOME`` that is created first, so the database and audit key already exist and
only start-up is measured. Prints the median wall time of each, its ratio to
``python -c pass`` and its distance from it, and whether it meets the issue's targets:
``--help`` within 0.4 s of bare Python, ``data list`` under 1.5 s.

    .venv/bin/python benchmarks/bench_cli_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mltrainer --help": [str(BIN / "mltrainer"), "--help"],
    "mltrainer data list": [str(BIN / "mltrainer"), "data", "list"],
    "mltrainer models list": [str(BIN / "mltrainer"), "models", "list"],
}
# name -> (limit in seconds, measured against): None = absolute wall time
TARGETS = {"mltrainer --help": (0.4, "python -c pass"), "mltrainer data list": (1.5, None)}


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MLTRAINER_HOME": home}
        for cmd in COMMANDS.values():  # warm-up: creates the home, the database, the caches
            wall(cmd, env)
        med = {
            name: statistics.median(wall(cmd, env) for _ in range(args.repeat))
            for name, cmd in COMMANDS.items()
        }
    base = med["python -c pass"]
    print(f"median of {args.repeat} runs each, fresh process per run")
    print(f"{'command':24} {'seconds':>8} {'ratio':>8} {'+ over python':>14}  target")
    failed = False
    for name, t in med.items():
        target = ""
        if name in TARGETS:
            limit, against = TARGETS[name]
            value = t - med[against] if against else t
            ok = value <= limit
            failed |= not ok
            what = f"within {limit} s of bare Python" if against else f"under {limit} s"
            target = f"{what}: {'met' if ok else 'MISSED'}"
        print(f"{name:24} {t:8.3f} {t / base:7.2f}x {t - base:13.3f}s  {target}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
