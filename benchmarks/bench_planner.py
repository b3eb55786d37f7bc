"""The offline planner's speed: start-up (training the intent classifier) and the time from a
message to its planned tool calls.

Run: ``.venv/bin/python benchmarks/bench_planner.py`` (``--repeat N`` passes over the test
corpus, default 3). Prints, and exits 0:

* start-up: tagging the training corpus and fitting TF-IDF + LinearSVC, measured in this
  process on first use (the planner trains once per process), and the one-off import of
  scikit-learn it needs;
* message -> planned calls: p50 / p95 / max of :meth:`Planner.understand` over every
  utterance of ``tests/data/planner_test_corpus.jsonl`` (target p95 < 50 ms).

It uses the bundled catalogue's symbols and aliases and the real model registry; nothing
is trained on market data and nothing touches the network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "planner_test_corpus.jsonl"


def _planner():
    from mltrainer.agent.planner import bundled_planner

    return bundled_planner()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="passes over the test corpus")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    import sklearn.feature_extraction.text  # noqa: F401  (the one-off import, timed apart)
    import sklearn.svm  # noqa: F401

    import_s = time.perf_counter() - started
    planner = _planner()
    started = time.perf_counter()
    planner.classifier.fit()
    fit_s = time.perf_counter() - started
    examples = len(planner.classifier.corpus)

    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines() if line.strip()]
    times: list[float] = []
    for _ in range(max(1, args.repeat)):
        for text in texts:
            t0 = time.perf_counter()
            planner.understand(text)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print("offline planner")
    print(f"  scikit-learn import (once per process): {import_s:.3f} s")
    print(f"  start-up, tag {examples} training utterances + fit TF-IDF/LinearSVC: {fit_s:.3f} s")
    print(
        f"  message -> planned calls over {len(texts)} utterances x {args.repeat}: "
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms (target p95 < 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
