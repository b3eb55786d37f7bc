"""Walk-forward engine benchmarks.

Default: the engine vs a hand-written scikit-learn loop over the same folds. Ridge and
LightGBM on bundled SPX, 10-day horizon, monthly (21-bar) refits. The hand loop builds the
same features and labels, fits and predicts fold by fold with plain sklearn/lightgbm calls;
the engine run adds purging, positions, costs, metrics and provenance. Prints whether
predictions are identical and the time ratio (target: engine at most 1.1x the hand loop).
``--registry`` also times every registry model on a short SPX window.

``--registry-defaults``: every registry model's default trial as ``mltrainer trial run
--model M --symbol SPX --horizon 10`` runs it (expanding window, 504 bars minimum,
monthly refits, bundled SPX 1999-2018, fold-parallel fitting per MLTRAINER_FOLD_JOBS),
timed; met/missed against the 120 s target per model, the slowest ten at the end. Results
go to a JSON-lines file (``--results``) and models already in it are skipped, so an
interrupted sweep resumes; ``--models``/``--families`` pick a subset.

``--vs-sklearn``: the engine (fold-parallel) against scikit-learn's
``cross_val_predict(model, X, y, cv=<the engine's folds as (train, test) pairs>, n_jobs=2)``
on the same inputs: identical predictions and two time ratios (target: engine at most
1.0x), the engine's fold phase vs cross_val_predict and the whole trial vs the same fetch
and features plus cross_val_predict; see :func:`vs_sklearn`.

    .venv/bin/python benchmarks/bench_walkforward.py [--repeat 3] [--registry]
    .venv/bin/python benchmarks/bench_walkforward.py --registry-defaults \
        [--families ensemble,deep] [--models a,b] [--results FILE]
    .venv/bin/python benchmarks/bench_walkforward.py --vs-sklearn [--vs-folds 24]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.features import build_features, make_labels
from mltrainer.settings import Settings
from mltrainer.trials import TrialSpec, plan_folds
from mltrainer.trials.engine import TRIAL_TASKS, cpu_cores, resolve_params

TARGET_S = 120.0
VS_MODELS = "ridge,lightgbm,random_forest"
"""The models ``--vs-sklearn`` compares by default (bench_research.py runs the same)."""
FILLER_ROWS = 100
"""Training rows of cross_val_predict's filler fold (see ``vs_sklearn``)."""


def hand_loop(md, spec: TrialSpec, make_model) -> np.ndarray:
    X = build_features(md, spec.feature_set)
    y = make_labels(md.frame["close"], spec.horizon)
    keep = X.notna().all(axis=1).to_numpy()
    X, y = X.loc[keep], y.loc[keep]
    preds = []
    for f in plan_folds(len(X), spec):
        Xtr, ytr = X.iloc[f.lo : f.hi], y.iloc[f.lo : f.hi]
        ok = ytr.notna().to_numpy()
        model = make_model()
        model.fit(Xtr.loc[ok], ytr.loc[ok])
        preds.append(model.predict(X.iloc[f.s : f.e]))
    return np.concatenate(preds)


def registry_defaults(ex: UnifiedExecutor, args: argparse.Namespace) -> None:
    """Every chosen model's CLI-default trial on SPX, timed; resumable through a JSONL file."""
    wanted = set(args.models.split(",")) if args.models else None
    families = set(args.families.split(",")) if args.families else None
    specs = [
        s
        for s in ex.registry
        if s.task in TRIAL_TASKS
        and (wanted is None or s.id in wanted)
        and (families is None or s.family in families)
    ]
    if wanted and (missing := wanted - {s.id for s in specs}):
        raise SystemExit(f"not trial models in the registry: {', '.join(sorted(missing))}")
    path = Path(args.results)
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["model"]] = row
    print(
        f"{len(specs)} models, {cpu_cores()} cores, fold jobs {ex.engine.fold_jobs or 'one per core'}, "
        f"target {TARGET_S:.0f} s; results in {path} ({len(done)} already there)"
    )
    for s in specs:
        if s.id in done:
            continue
        if not s.available:
            row = {"model": s.id, "family": s.family, "seconds": None, "error": s.install_hint}
        else:
            spec = TrialSpec(model_id=s.id, symbol="SPX", horizon=10)
            load = os.getloadavg()[0]  # other work on the machine slows the figure down
            t = time.perf_counter()
            try:
                r = ex.engine.run(spec)
                row = {
                    "model": s.id,
                    "family": s.family,
                    "seconds": round(time.perf_counter() - t, 2),
                    "folds": len(r.folds),
                    "fold_jobs": int(r.timings["fold_jobs"]),
                    "fold_threads": int(r.timings["fold_threads"]),
                    "fit_s": round(r.timings["fit_s"], 2),
                    "sharpe": r.metrics.get("sharpe"),
                    "load_before": round(load, 2),
                }
            except Exception as e:  # a failing model is recorded, the sweep goes on
                row = {"model": s.id, "family": s.family, "seconds": None, "error": str(e)}
        done[s.id] = row
        with path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        _print_row(row)
    rows = [done[s.id] for s in specs if s.id in done]
    timed = sorted((r for r in rows if r["seconds"] is not None), key=lambda r: -r["seconds"])
    print("\nslowest ten:")
    for r in timed[:10]:
        _print_row(r)
    met = sum(r["seconds"] <= TARGET_S for r in timed)
    missed = [r["model"] for r in timed if r["seconds"] > TARGET_S]
    failed = [r["model"] for r in rows if r["seconds"] is None]
    print(f"target {TARGET_S:.0f} s: met {met}/{len(timed)}; missed: {', '.join(missed) or 'none'}")
    if failed:
        print(f"not timed (unavailable or failed): {', '.join(failed)}")


def _print_row(r: dict) -> None:
    if r["seconds"] is None:
        print(f"  {r['model']:<36} not timed: {r['error']}")
        return
    verdict = "met" if r["seconds"] <= TARGET_S else "MISSED"
    print(
        f"  {r['model']:<36}{r['seconds']:8.1f} s  {r['folds']} folds x{r['fold_jobs']}"
        f"{' threads' if r.get('fold_threads') else ''}  "
        f"fit {r['fit_s']:.1f} s  load {r.get('load_before', '?')}  {verdict}"
    )


def _rounds(fns, repeat: int, *, interleave: bool):
    """Seconds of ``repeat`` timed calls of each of ``fns`` after two discarded rounds,
    and each one's last result.

    The discarded rounds start worker processes (the engine starts its own on the second
    trial that projects past half its bar), so the timed ones find them warm.
    ``interleave``: the timed calls alternate (a, b, a, b...), so a drift in the machine's
    speed (other tenants of the host) hits every side alike and round ``i``'s figures can
    be paired. Not when the engine fits folds in worker processes: its workers cap native
    threads and scikit-learn's do not, so alternating would make loky replace the workers
    before every call; each side then runs its rounds back to back."""
    times: list[list[float]] = [[] for _ in fns]
    outs: list = [None] * len(fns)

    def call(j: int, timed: bool) -> None:
        t = time.perf_counter()
        outs[j] = fns[j]()
        if timed:
            times[j].append(time.perf_counter() - t)

    if interleave:
        for i in range(repeat + 2):
            for j in range(len(fns)):
                call(j, i >= 2)
    else:
        for j in range(len(fns)):
            for i in range(repeat + 2):
                call(j, i >= 2)
    return times, outs


def vs_sklearn(ex: UnifiedExecutor, args: argparse.Namespace) -> None:
    """The engine vs ``cross_val_predict(..., cv=<the same folds>, n_jobs=2)``.

    Two comparisons, both printed. The target one is like for like: the engine's fold
    phase (wall time of fitting and predicting every fold, ``timings["folds_s"]``)
    against cross_val_predict, which does exactly that work on the same X, y and folds.
    End to end adds, on the engine side, the audited fetch, features, positions and
    metrics of a trial, and on the other side the same fetch and features (the engine's
    own ``_inputs``) before cross_val_predict; it has no positions or metrics to add."""
    from sklearn.model_selection import cross_val_predict

    print(
        f"\nengine (fold-parallel, jobs {ex.engine.fold_jobs or cpu_cores()}) vs "
        f"cross_val_predict(n_jobs=2) on the same folds, SPX 1999-2018, last {args.vs_folds} folds"
    )
    print(
        f"{'model':<16}{'folds s':>9}{'cvp s':>9}{'ratio':>7}   "
        f"{'trial s':>9}{'inputs+cvp s':>14}{'ratio':>7}  identical predictions"
    )
    for model_id in args.vs_models.split(","):
        spec = TrialSpec(model_id=model_id, symbol="SPX", horizon=10, max_folds=args.vs_folds)
        mspec = ex.registry.get(model_id)
        params = resolve_params(mspec, spec)  # what the engine fits with
        _, X, labels, _, _ = ex.engine._inputs(spec, mspec)
        y = (labels > 0).astype(int) if mspec.task == "classification" else labels
        folds = plan_folds(len(X), spec)
        ok = y.notna().to_numpy()
        cv = [(f.lo + np.flatnonzero(ok[f.lo : f.hi]), np.arange(f.s, f.e)) for f in folds]
        # cross_val_predict wants the test sets to partition the rows: rows before the
        # first test fold get one filler fold, fitted on the last FILLER_ROWS training
        # rows of the first fold so that its extra fit costs next to nothing (its
        # predictions are dropped).
        base = folds[0].s
        cv.insert(0, (cv[0][0][-FILLER_ROWS:], np.arange(0, base)))
        results: list = []

        def engine(s=spec, out=results):
            out.append(ex.engine.run(s))
            return out[-1]

        def cvp(m=mspec, p=params, X=X, y=y, cv=cv):
            return cross_val_predict(m.build(**p), X, y, cv=cv, n_jobs=2)

        def inputs(s=spec, m=mspec):
            return ex.engine._inputs(s, m)

        first = engine()  # the engine's layout: sequential, fold threads or processes
        on_processes = first.timings["fold_jobs"] > 1 and not first.timings["fold_threads"]
        (eng_t, cvp_t, inputs_t), (res, cp, _) = _rounds(
            [engine, cvp, inputs], args.repeat, interleave=not on_processes
        )
        folds_t = [r.timings["folds_s"] for r in results[-args.repeat :]]
        ep = np.array([p[1] for p in res.predictions])
        same = np.array_equal(ep, np.asarray(cp, dtype=float)[base:])
        f, c, e = statistics.median(folds_t), statistics.median(cvp_t), statistics.median(eng_t)
        ec = statistics.median(inputs_t) + c
        layout = " processes" if on_processes else " threads" if res.timings["fold_threads"] else ""
        verdict = "met" if f <= c else "NOT met"
        print(
            f"{model_id:<16}{f:>9.3f}{c:>9.3f}{f / c:>7.2f}   {e:>9.3f}{ec:>14.3f}{e / ec:>7.2f}"
            f"  {same}  (fold jobs {int(res.timings['fold_jobs'])}{layout}; "
            f"{'interleaved' if not on_processes else 'back to back'}; "
            f"target folds/cvp <= 1.0: {verdict})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--registry", action="store_true", help="also time every registry model")
    ap.add_argument(
        "--registry-defaults",
        action="store_true",
        help="time every registry model's CLI-default trial on SPX 1999-2018 (resumable)",
    )
    ap.add_argument("--models", help="comma-separated model ids (with --registry-defaults)")
    ap.add_argument("--families", help="comma-separated families (with --registry-defaults)")
    ap.add_argument(
        "--results",
        default="benchmarks/registry_defaults.jsonl",
        help="JSON-lines results; models already in it are skipped",
    )
    ap.add_argument("--vs-sklearn", action="store_true", help="engine vs cross_val_predict")
    ap.add_argument("--vs-models", default=VS_MODELS)
    ap.add_argument("--vs-folds", type=int, default=24, help="last N folds (--vs-sklearn)")
    args = ap.parse_args()
    app = App(
        Settings(
            home=tempfile.mkdtemp(prefix="mlt-bench-"), polygon_api_key=None, fred_api_key=None
        )
    )
    ex = UnifiedExecutor(app)
    if args.registry_defaults or args.vs_sklearn:
        if args.registry_defaults:
            registry_defaults(ex, args)
        if args.vs_sklearn:
            vs_sklearn(ex, args)
        return
    md = app.data.fetch("SPX", start="2005-01-01", end="2018-12-31")
    print(f"SPX {md.provenance.rows} bars, sha256 {md.provenance.sha256[:16]}...")
    print(f"{'model':<12}{'hand loop s':>12}{'engine s':>10}{'ratio':>8}  identical predictions")
    for model_id in ("ridge", "lightgbm"):
        spec = TrialSpec(
            model_id=model_id,
            symbol="SPX",
            start="2005-01-01",
            end="2018-12-31",
            horizon=10,
            refit_every=21,
        )
        mspec = ex.registry.get(model_id)
        params = resolve_params(mspec, spec)  # what the engine fits with
        hand_t, eng_t = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            hp = hand_loop(md, spec, lambda p=params, m=mspec: m.build(**p))
            hand_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = ex.engine.run(spec)
            eng_t.append(time.perf_counter() - t)
        ep = np.array([p[1] for p in res.predictions])
        same = ep.shape == hp.shape and np.array_equal(ep, hp)
        h, e = statistics.median(hand_t), statistics.median(eng_t)
        print(
            f"{model_id:<12}{h:>12.3f}{e:>10.3f}{e / h:>8.2f}  {same}  (target ratio <= 1.10: {'met' if e / h <= 1.10 else 'NOT met'})"
        )
    if args.registry:
        print("\nEvery registry model on SPX 2014-2016 (window 252, 63-bar folds, last 3 folds):")
        total, rows = 0.0, []
        for s in ex.registry:
            if not s.available:
                print(f"  {s.id:<40} unavailable: {s.install_hint}")
                continue
            spec = TrialSpec(
                model_id=s.id,
                symbol="SPX",
                start="2014-01-01",
                end="2016-12-31",
                window_size=252,
                refit_every=63,
                max_folds=3,
            )
            t = time.perf_counter()
            r = ex.engine.run(spec)
            dt = time.perf_counter() - t
            total += dt
            rows.append((dt, s.id, r.metrics.get("sharpe")))
        for dt, mid, sh in sorted(rows, reverse=True):
            print(f"  {mid:<40}{dt:8.2f}s  sharpe {sh if sh is None else round(sh, 3)}")
        print(f"total {total:.1f}s for {len(rows)} models (mean {total / max(1, len(rows)):.2f}s)")


if __name__ == "__main__":
    main()
