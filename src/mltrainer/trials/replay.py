"""Replaying a stored trial: run its spec again and compare everything the result holds.

The re-run fits with the parameters the result recorded (``model_params``), so a registry
default changed since does not change the replay; a result stored before parameters were
recorded replays with the model's ``former_defaults``. It uses the stored DSR context
(``n_trials`` and the other trials' Sharpes), so the deflated Sharpe is reproduced rather
than re-deflated by trials that came later. Every value
the stored result holds is compared exactly: metrics, benchmark, folds, the equity curve,
each prediction/position/label, the spec, ``spec_hash``, ``data_sha256`` and the rest.
Timings and library versions are reported, not compared (they legitimately vary); a value
only the replay has (a field added since the trial was stored) is listed, not compared.
A replay is not a new trial: nothing is stored, so it never counts toward a later DSR.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..audit import AuditLog
from ..seals import check_seal
from .engine import WalkForwardEngine, resolve_params
from .spec import TrialResult
from .store import TrialStore

__all__ = ["ReplayReport", "compare_results", "replay_trial"]

NOT_COMPARED = ("timings", "versions", "folds[].fit_seconds")
_TUPLES = {
    "equity": ("timestamp", "strategy", "buy_and_hold"),
    "predictions": ("timestamp", "prediction", "position", "label"),
}
_SKIP_TOP = {"timings", "versions"}
_SKIP_FOLD = {"fit_seconds"}
MAX_LISTED = 50


@dataclass
class ReplayReport:
    trial_id: str
    compared: dict[str, int] = field(default_factory=dict)
    """Values compared per section of the stored result (e.g. ``{"metrics": 22, ...}``)."""
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The first :data:`MAX_LISTED` differences, by path (``"equity[12].strategy"``)."""
    n_differences: int = 0
    only_in_replay: list[str] = field(default_factory=list)
    seal: str | None = None
    """``"matches"``, ``"differs"`` or ``"none"`` (stored before sealing existed)."""
    versions: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.n_differences == 0 and self.seal != "differs"

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "identical": self.identical,
            "compared": self.compared,
            "values_compared": sum(self.compared.values()),
            "n_differences": self.n_differences,
            "differences": self.differences,
            "only_in_replay": self.only_in_replay,
            "not_compared": list(NOT_COMPARED),
            "seal": self.seal,
            "versions": self.versions,
            "timings": self.timings,
        }


def _same(a: Any, b: Any) -> bool:
    """Exact equality; numbers compare by value (JSON may read 3.0 back as 3), NaN == NaN."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool | str):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


class _Comparer:
    def __init__(self, report: ReplayReport):
        self.r = report

    def diff(self, path: str, stored: Any, replayed: Any) -> None:
        self.r.n_differences += 1
        if len(self.r.differences) < MAX_LISTED:
            self.r.differences[path] = {"stored": stored, "replayed": replayed}

    def walk(self, section: str, path: str, a: Any, b: Any, names: tuple[str, ...] = ()) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k, v in a.items():
                if section == "folds" and k in _SKIP_FOLD:
                    continue
                if k not in b:
                    self.r.compared[section] = self.r.compared.get(section, 0) + 1
                    self.diff(f"{path}.{k}", v, "(missing)")
                else:
                    self.walk(section, f"{path}.{k}", v, b[k])
            self.r.only_in_replay += [f"{path}.{k}" for k in b if k not in a]
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if len(a) != len(b):
                self.r.compared[section] = self.r.compared.get(section, 0) + 1
                self.diff(f"{path}.length", len(a), len(b))
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                label = names[i] if names and i < len(names) else None
                sub = f"{path}.{label}" if label else f"{path}[{i}]"
                inner = _TUPLES.get(section, ()) if path == section else ()
                self.walk(section, sub, x, y, inner)
        else:
            self.r.compared[section] = self.r.compared.get(section, 0) + 1
            if not _same(a, b):
                self.diff(path, a, b)


def compare_results(trial_id: str, stored: dict[str, Any], replayed: TrialResult) -> ReplayReport:
    """Compare a stored result (as the database holds it) with a fresh run of its spec."""
    report = ReplayReport(trial_id)
    new = replayed.model_dump(mode="json")
    cmp = _Comparer(report)
    for key, value in stored.items():
        if key in _SKIP_TOP:
            continue
        if key not in new:
            report.compared[key] = report.compared.get(key, 0) + 1
            cmp.diff(key, value, "(missing)")
            continue
        cmp.walk(key, key, value, new[key])
    report.only_in_replay += [k for k in new if k not in stored and k not in _SKIP_TOP]
    report.versions = {"stored": stored.get("versions"), "replayed": new.get("versions")}
    report.timings = {"stored": stored.get("timings"), "replayed": new.get("timings")}
    return report


def replay_trial(
    engine: WalkForwardEngine,
    store: TrialStore,
    audit: AuditLog,
    trial_id: str,
    *,
    on_fold: Callable[[int, int], None] | None = None,
    actor: str = "system",
) -> ReplayReport:
    """Re-run ``trial_id`` with its stored spec and DSR context; audit the outcome."""
    raw = store.get(trial_id)["result"]
    old = store.result(trial_id)  # raises NotFound when the trial has no result
    mspec = engine.registry.get(old.spec.model_id)
    if old.model_params is None:  # stored before parameters were recorded
        params = resolve_params(mspec, old.spec, former=True)
    else:
        params = mspec.recorded(old.model_params)
    new = engine.run(
        old.spec,
        on_fold=on_fold,
        n_trials=old.n_trials,
        other_sharpes=old.other_sharpes,
        model_params=params,
    )
    report = compare_results(trial_id, raw, new)
    report.seal = check_seal(audit, "trial.seal", trial_id)
    audit.append(
        "trial.replay",
        {
            "trial_id": trial_id,
            "identical": report.identical,
            "values_compared": sum(report.compared.values()),
            "n_differences": report.n_differences,
            "first_differences": sorted(report.differences)[:10],
            "seal": report.seal,
        },
        actor=actor,
    )
    return report
