"""REST API under concurrent load: 20 clients x 50 mixed requests against `mltrainer serve`.

Starts ``mltrainer serve`` (a real process, fresh ``MLTRAINER_HOME``, SQLite) on a free
loopback port and drives it with ``--clients`` concurrent httpx clients, each sending
``--requests`` requests in a fixed rotation (no randomness, so two runs send the same
requests): reads (models, catalogue, trials, one trial, goal, memory stats, audit tail,
runs, metrics), chat turns whose offline planner runs a real ridge trial on bundled SPX,
trial creations (ridge/lasso on SPX, a few quarterly folds), run submissions (queued, not
run: no worker is started) and a Black-Scholes price.

Prints p50/p95/max latency per endpoint, the error count (any non-2xx or transport error:
target 0) and checks the counts afterwards: trials stored = trials created + chat trials,
runs listed = runs submitted, ``GET /audit/verify`` ok. Exit 1 when a check fails.

    .venv/bin/python benchmarks/bench_api.py [--clients 20] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from api_server import served_api  # noqa: E402  (the same server fixture the tests use)

V = "/api/v1"
TRIAL = {"symbol": "SPX", "start": "2012-01-01", "end": "2015-12-31", "horizon": 5, "max_folds": 3}
STEP = {"action": "train_model", "params": {"model_id": "ridge", **TRIAL}}

# (label, method, path, json body); {trial} is filled with a trial id made earlier
MIX: list[tuple[str, str, str, Any]] = [
    ("GET /models", "GET", "/models", None),
    ("GET /data/catalogue", "GET", "/data/catalogue", None),
    ("POST /trials", "POST", "/trials", {"model_id": "ridge", **TRIAL}),
    ("GET /trials", "GET", "/trials?limit=20", None),
    ("GET /goals/current", "GET", "/goals/current", None),
    ("POST /chat", "POST", "/chat", {"message": "train ridge on SPX from 2012 to 2015"}),
    ("GET /memory/stats", "GET", "/memory/stats", None),
    ("GET /trials/{id}", "GET", "/trials/{trial}", None),
    ("POST /runs", "POST", "/runs", {"steps": [STEP]}),
    ("GET /audit/tail", "GET", "/audit/tail?n=20", None),
    ("POST /trials", "POST", "/trials", {"model_id": "lasso", **TRIAL}),
    ("GET /runs", "GET", "/runs", None),
    (
        "POST /financial/black_scholes/run",
        "POST",
        "/financial/black_scholes/run",
        {"params": {"spot": 100, "strike": 105, "volatility": 0.25, "rate": 0.04, "maturity": 0.5}},
    ),
    ("GET /metrics", "GET", "/metrics", None),
]


async def client(
    base: str,
    headers: dict,
    idx: int,
    n: int,
    seed_trial: str,
    lat: dict[str, list[float]],
    errors: list[str],
    made: dict[str, int],
) -> None:
    async with httpx.AsyncClient(base_url=base + V, headers=headers, timeout=300) as c:
        for k in range(n):
            label, method, path, body = MIX[(idx * 7 + k) % len(MIX)]
            t0 = time.perf_counter()
            try:
                r = await c.request(method, path.format(trial=seed_trial), json=body)
            except httpx.HTTPError as e:
                errors.append(f"{label}: {type(e).__name__}")
                continue
            lat[label].append(time.perf_counter() - t0)
            if not 200 <= r.status_code < 300:
                errors.append(f"{label}: {r.status_code} {r.text[:200]}")
                continue
            if label == "POST /trials":
                made["trials"] += 1
            elif label == "POST /runs":
                made["runs"] += 1
            elif label == "POST /chat":
                made["trials"] += sum(
                    1 for a in r.json()["actions"] if a["name"] == "train_model" and a["success"]
                )


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


async def drive(api, clients: int, requests: int) -> int:
    async with httpx.AsyncClient(base_url=api.url + V, headers=api.headers, timeout=300) as c:
        seed = (await c.post("/trials", json={"model_id": "ridge", **TRIAL})).json()["id"]
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    made = {"trials": 1, "runs": 0}
    t0 = time.perf_counter()
    await asyncio.gather(
        *(
            client(api.url, api.headers, i, requests, seed, lat, errors, made)
            for i in range(clients)
        )
    )
    wall = time.perf_counter() - t0
    total = sum(len(v) for v in lat.values())
    print(
        f"{clients} clients x {requests} requests = {clients * requests} "
        f"({total} answered) in {wall:.1f} s, {total / wall:.1f} req/s"
    )
    print(f"{'endpoint':38} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for label in sorted(lat):
        xs = [x * 1000 for x in lat[label]]
        print(f"{label:38} {len(xs):5d} {pct(xs, 50):9.1f} {pct(xs, 95):9.1f} {max(xs):9.1f}")
    async with httpx.AsyncClient(base_url=api.url + V, headers=api.headers, timeout=300) as c:
        trials = (await c.get("/trials", params={"limit": 1})).json()["count"]
        runs = (await c.get("/runs", params={"limit": 1000})).json()["count"]
        verify = (await c.get("/audit/verify")).json()
    ok = not errors and trials == made["trials"] and runs == made["runs"] and verify["ok"]
    print(f"errors: {len(errors)} (target 0)")
    for e in errors[:10]:
        print("  ", e)
    print(
        f"trials stored {trials} = made {made['trials']}: {trials == made['trials']}; "
        f"runs listed {runs} = submitted {made['runs']}: {runs == made['runs']}; "
        f"audit verify ok: {verify['ok']} ({verify.get('records')} records)"
    )
    if errors:  # the server's side of each failure (its log goes with the temporary home)
        lines = [ln for ln in api.log().splitlines() if not ln.startswith("INFO")]
        print("server log (without INFO lines), last 60:", *lines[-60:], sep="\n  ")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50)
    a = ap.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="mlt-bench-api-") as home,
        served_api(Path(home) / "home", env={"MLTRAINER_EMBEDDED_WORKERS": "false"}) as api,
    ):
        return asyncio.run(drive(api, a.clients, a.requests))


if __name__ == "__main__":
    sys.exit(main())
