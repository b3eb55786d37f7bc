"""Walk-forward engine vs a hand-written scikit-learn loop over the same folds.

Ridge and LightGBM on bundled SPX, 10-day horizon, monthly (21-bar) refits. The hand
loop builds the same features and labels, fits and predicts fold by fold with plain
sklearn/lightgbm calls; the engine run adds purging, positions, costs, metrics and
provenance. Prints whether predictions are identical and the time ratio (target: engine
at most 1.1x the hand loop). ``--registry`` also times every registry model on SPX.

    .venv/bin/python benchmarks/bench_walkforward.py [--repeat 3] [--registry]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.features import build_features, make_labels
from mltrainer.settings import Settings
from mltrainer.trials import TrialSpec, plan_folds


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--registry", action="store_true", help="also time every registry model")
    args = ap.parse_args()
    app = App(
        Settings(
            home=tempfile.mkdtemp(prefix="mlt-bench-"), polygon_api_key=None, fred_api_key=None
        )
    )
    ex = UnifiedExecutor(app)
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
        params = mspec.params()
        if "random_state" in params:
            params["random_state"] = spec.seed
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
