"""Background-run benchmarks: one batch run with 1 and with 2 local workers, and the
per-step cost of claiming and finishing a step.

Workers: the same 24 trials (4 registry models x 3 label horizons x 2 bundled symbols,
the last ``--max-folds`` quarterly folds each) queued as one batch run in a fresh
``MLTRAINER_HOME``, processed by a :class:`~mltrainer.runs.worker.WorkerPool` of 1 and
then of 2 processes. ``fold_jobs = 1`` in both, so the comparison is about workers, not
fold pools. Prints the wall time of each pool (process start to exit) and of its steps
(first step started to last step finished, from the ``run_steps`` rows), the speed-up
(target: at least 1.7x on 2 cores) and whether the two runs' metrics are identical.
Other work on the machine skews the comparison: the 1-minute load average is printed
before and after each pool. Each pool's wall time includes its processes' start (spawn
and imports, about 2 s, paid once by a long-running ``mltrainer worker``), so the
trials must be long enough for the comparison to be about workers: 24 folds each (about
1.4 s per trial) since the engine's thread caps and cheaper defaults made the 12-fold
trials of the first version 0.7 s.
Every metric is compared except ``dsr``: N for the DSR counts the finished trials of the
same question (symbol, horizon, interval), four models each here, so it depends on the
order in which parallel workers finish; the spec and data hashes are compared too.

Claim overhead: ``--claims`` queued steps (never executed) claimed with
:meth:`RunStore.claim` and finished with :meth:`RunStore.finish` one after another on
SQLite; the median milliseconds of claim + finish per step (target: under 20 ms).

Engine vs scikit-learn: the walk-forward engine with fold-parallel fitting against
``cross_val_predict(n_jobs=2)`` on the engine's own folds, X and y (identical predictions;
target: at least as fast), as ``bench_walkforward.py --vs-sklearn`` runs it.

    .venv/bin/python benchmarks/bench_research.py [--max-folds 24] [--claims 200] \
        [--skip-runs] [--skip-vs-sklearn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.runs import RunStore
from mltrainer.runs.worker import WorkerPool
from mltrainer.settings import Settings
from mltrainer.trials.engine import cpu_cores

SPEEDUP_TARGET = 1.7
CLAIM_TARGET_MS = 20.0
MODELS: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 50},
    "extra_trees": {"n_estimators": 100},
    "lightgbm": {},
    "gradient_boosting": {"n_estimators": 40},
}
HORIZONS = (5, 10, 20)
SYMBOLS = ("SPX", "AAPL")


def steps(max_folds: int) -> list[dict[str, Any]]:
    return [
        {
            "action": "train_model",
            "params": {
                "model_id": m,
                "params": p,
                "symbol": s,
                "horizon": h,
                "max_folds": max_folds,
            },
        }
        for s in SYMBOLS
        for h in HORIZONS
        for m, p in MODELS.items()
    ]


def settings_for(home: Path, workers: int) -> Settings:
    keys = {k: None for k in ("polygon_api_key", "fred_api_key")}
    keys |= {k: None for k in ("anthropic_api_key", "openai_api_key")}
    return Settings(home=home, fold_jobs=1, workers=workers, embedded_workers=False, **keys)


def timed_run(workers: int, max_folds: int) -> dict[str, Any]:
    """Queue the batch in a fresh home, run it with a pool of ``workers``; timings and
    each step's outcome by seq."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-research-{workers}w-"))
    settings = settings_for(home, workers)
    with App(settings) as app:
        run_id = RunStore.for_executor(UnifiedExecutor(app)).create_run(
            "batch", steps(max_folds), owner="bench"
        )
    load = os.getloadavg()[0]  # other work on the machine skews the comparison
    t0 = time.perf_counter()
    pool = WorkerPool(settings, workers, once=True, quiet=True).start()
    pool.join()
    wall = time.perf_counter() - t0
    with App(settings) as app:
        run = RunStore(app.engine, app.audit).get(run_id)
        audit_ok = app.audit.verify().ok
    rows = run["steps"]
    bad = [(s["seq"], s["status"], s["error"]) for s in rows if s["status"] != "succeeded"]
    if run["status"] != "finished" or bad:
        raise SystemExit(f"{workers} worker(s): run {run['status']}, steps not succeeded: {bad}")
    first = min(datetime.fromisoformat(s["started_at"]) for s in rows)
    last = max(datetime.fromisoformat(s["finished_at"]) for s in rows)
    return {
        "workers": workers,
        "wall_s": wall,
        "steps_wall_s": (last - first).total_seconds(),
        "step_s": sum(s["outcome"]["duration_s"] for s in rows),
        "worker_ids": len({s["worker_id"] for s in rows}),
        "exit_codes": [p.exitcode for p in pool.processes],
        "audit_ok": audit_ok,
        "load": (load, os.getloadavg()[0]),
        "outcomes": {s["seq"]: s["outcome"] for s in rows},
    }


def differences(a: dict[int, Any], b: dict[int, Any]) -> list[str]:
    """Every metric except ``dsr``, and the spec/data hashes, step by step."""
    out = []
    for seq in sorted(a):
        ma = {k: v for k, v in a[seq]["metrics"].items() if k != "dsr"}
        mb = {k: v for k, v in b[seq]["metrics"].items() if k != "dsr"}
        if ma != mb:
            keys = sorted(k for k in ma.keys() | mb.keys() if ma.get(k) != mb.get(k))
            out.append(f"step {seq}: {keys}")
        for k in ("spec_hash", "data_sha256"):
            if a[seq].get(k) != b[seq].get(k):
                out.append(f"step {seq}: {k}")
    return out


def claim_overhead(n: int) -> dict[str, float]:
    """Median ms of claim() and finish() over ``n`` queued steps on SQLite."""
    home = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    with App(settings_for(home, 1)) as app:
        store = RunStore.for_executor(UnifiedExecutor(app))
        step = {"action": "train_model", "params": {"model_id": "ridge", "symbol": "SPX"}}
        store.create_run("batch", [step] * n, owner="bench")
        claim_ms, finish_ms = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            claimed = store.claim("bench-worker")
            t1 = time.perf_counter()
            assert claimed is not None
            assert store.finish(
                claimed.step_id, "bench-worker", "succeeded", outcome={"duration_s": 0.0}
            )
            t2 = time.perf_counter()
            claim_ms.append((t1 - t0) * 1e3)
            finish_ms.append((t2 - t1) * 1e3)
        assert store.claim("bench-worker") is None
        total = [c + f for c, f in zip(claim_ms, finish_ms, strict=True)]
        return {
            "claim_ms": statistics.median(claim_ms),
            "finish_ms": statistics.median(finish_ms),
            "total_ms": statistics.median(total),
            "total_p95_ms": sorted(total)[int(0.95 * (n - 1))],
            "url": str(app.engine.url.drivername),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-folds", type=int, default=24, help="folds per trial (default 24)")
    ap.add_argument("--claims", type=int, default=200, help="steps for the claim overhead")
    ap.add_argument("--skip-runs", action="store_true", help="only the claim overhead")
    ap.add_argument(
        "--skip-vs-sklearn", action="store_true", help="skip the engine vs cross_val_predict"
    )
    args = ap.parse_args()
    print(f"{cpu_cores()} cores; {len(steps(args.max_folds))} trials, fold_jobs=1")

    if not args.skip_runs:
        one = timed_run(1, args.max_folds)
        two = timed_run(2, args.max_folds)
        for r in (one, two):
            print(
                f"{r['workers']} worker(s): wall {r['wall_s']:.1f}s (steps {r['steps_wall_s']:.1f}s,"
                f" sum of step times {r['step_s']:.1f}s), {r['worker_ids']} worker id(s), "
                f"exit codes {r['exit_codes']}, audit verify {'ok' if r['audit_ok'] else 'FAILED'}, "
                f"1-min load average {r['load'][0]:.1f} before, {r['load'][1]:.1f} after"
            )
        speedup = one["wall_s"] / two["wall_s"]
        steps_speedup = one["steps_wall_s"] / two["steps_wall_s"]
        verdict = "met" if speedup >= SPEEDUP_TARGET else "MISSED"
        print(
            f"speed-up {speedup:.2f}x wall, {steps_speedup:.2f}x steps "
            f"(target >= {SPEEDUP_TARGET}x: {verdict})"
        )
        diff = differences(one["outcomes"], two["outcomes"])
        print(
            "metrics identical (every metric but dsr, spec and data hashes)"
            if not diff
            else f"metrics DIFFER: {diff}"
        )

    c = claim_overhead(args.claims)
    verdict = "met" if c["total_ms"] < CLAIM_TARGET_MS else "MISSED"
    print(
        f"claim+finish on {c['url']}, {args.claims} steps: median {c['total_ms']:.2f} ms "
        f"(claim {c['claim_ms']:.2f}, finish {c['finish_ms']:.2f}; p95 {c['total_p95_ms']:.2f}) "
        f"(target < {CLAIM_TARGET_MS:g} ms: {verdict})"
    )

    if not args.skip_vs_sklearn:
        engine_vs_sklearn()


def engine_vs_sklearn() -> None:
    """The engine's fold-parallel fitting vs ``cross_val_predict(n_jobs=2)`` on the same
    folds: ``bench_walkforward.py --vs-sklearn`` with its defaults, run here too."""
    from bench_walkforward import VS_MODELS, vs_sklearn  # this script's folder is on sys.path

    home = tempfile.mkdtemp(prefix="mlt-bench-")
    with App(Settings(home=home, polygon_api_key=None, fred_api_key=None)) as app:
        ex = UnifiedExecutor(app)
        try:
            vs_sklearn(
                ex,
                argparse.Namespace(vs_models=VS_MODELS, vs_folds=24, repeat=3),
            )
        finally:
            ex.shutdown()


if __name__ == "__main__":
    main()
