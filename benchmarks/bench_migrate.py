"""Legacy migration throughput: 100,000 legacy chat-memory messages into a fresh home.

Writes the same ``logs/memory/chat_memory.jsonl`` the scale test uses (ten research
sentences cycled, one second apart, legacy topics and importance on six lines in seven),
imports it with :meth:`Migrator.run` on SQLite (one transaction: reading, fingerprints,
memory rows with FTS5, legacy records, the audit record) and prints messages per second
against the target of 5,000/s as a ratio. Then runs the import again (nothing new: the
fingerprint lookup alone) and prints its time. The 1-minute load average is printed
before and after: other work on the 2 cores slows the import.

    .venv/bin/python benchmarks/bench_migrate.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from mltrainer.app import App
from mltrainer.migrate import open_migrator
from mltrainer.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_migrate_scale as scale  # noqa: E402  (the scale test's generator)

TARGET = 5_000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=scale.N)
    n = ap.parse_args().messages
    scale.N = n
    with tempfile.TemporaryDirectory(prefix="mlt-bench-migrate-") as tmp:
        root = Path(tmp)
        scale._write(root / "legacy" / "logs" / "memory" / "chat_memory.jsonl")
        app = App(Settings(home=root / "home"))
        try:
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            m = open_migrator(app)
            t0 = time.perf_counter()
            rep = m.run(root / "legacy")
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = m.run(root / "legacy")
            second = time.perf_counter() - t0
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            app.close()
    rate = rep.totals.imported / first
    print(
        f"{rep.totals.imported:,} of {n:,} messages imported in {first:.1f} s: "
        f"{rate:,.0f} messages/s = {rate / TARGET:.2f}x the 5,000/s target"
    )
    print(
        f"second run: {again.totals.already_present:,} already imported, nothing new, "
        f"in {second:.1f} s"
    )
    ok = rep.totals.imported == n and again.already_imported
    print("PASS" if ok and rate >= TARGET else "BELOW TARGET" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
