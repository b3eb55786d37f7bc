"""The report of a search run: Rich tables for the terminal, an HTML page with Plotly charts.

Everything is read from the run's stored summary (:func:`mltrainer.research.search.
search_summary`), so a report never re-runs a trial and never touches the holdout. The HTML
page (equity of the top candidates, in-sample vs holdout, the distribution of the trials'
Sharpes) embeds Plotly's JavaScript so it opens offline, and is written atomically.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..fsio import atomic_write_text

__all__ = ["report_tables", "write_html", "report_data", "summary_text"]


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x * 100:.2f}%" if pct else f"{x:.4f}"
    return str(x)


def report_data(run: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of the report: the run's status and its summary."""
    keep = ("id", "status", "finish_reason", "goal_id", "steps_total", "steps_done", "error")
    return {
        **{k: run.get(k) for k in keep},
        "budget": (run.get("config") or {}).get("budget"),
        "holdout_seal": (run.get("config") or {}).get("holdout"),
        "summary": run.get("summary"),
    }


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k != "params")


def _tuned_text(row: dict[str, Any]) -> str:
    """The model parameters a candidate ran with: tuned by Optuna (best of its N trials),
    or the registry defaults."""
    model = (row.get("params") or {}).get("params") or {}
    if row.get("tuned_params") is None:
        return _params_text(model) or "registry defaults"
    n = row.get("n_trials", 1)
    return f"{_params_text(model)} ({f'best of {n} tuned trials' if n > 1 else '1 tuned trial'})"


def report_tables(run: dict[str, Any]) -> Group:
    """Leaderboard, holdout verdict (constraint by constraint), PBO and N."""
    summary = run.get("summary") or {}
    head = Text(
        f"{run['id']}: {run['status']}"
        + (f" ({run['finish_reason']})" if run.get("finish_reason") else "")
        + f", {run.get('steps_done', 0)}/{run.get('steps_total', 0)} steps"
    )
    parts: list[Any] = [head]
    if not summary:
        parts.append(Text("No summary yet: the search has not finished."))
        return Group(*parts)
    parts.append(Text(f"Goal: {summary.get('goal')}"))
    board = Table(title="Leaderboard (in sample: walk-forward before the sealed holdout)")
    cols = ("#", "candidate", "settings", "model params", "Sharpe", "DSR", "max drawdown")
    for col in (*cols, "CAGR", "goal"):
        board.add_column(col)
    for i, row in enumerate(summary.get("leaderboard", []), 1):
        board.add_row(
            str(i),
            Text(row["candidate"]),
            Text(_params_text(row["params"])),
            Text(_tuned_text(row)),
            _fmt(row["sharpe"]),
            _fmt(row["dsr"]),
            _fmt(row["max_drawdown"], pct=True),
            _fmt(row["cagr"], pct=True),
            f"{row['constraints_passed']}/{row['constraints_total']}",
        )
    parts.append(board)
    parts.append(_holdout_table(summary.get("holdout") or {}))
    pbo, dsr = summary.get("pbo") or {}, summary.get("run_dsr") or {}
    stats = Table(title="Overfitting over the run")
    stats.add_column("statistic")
    stats.add_column("value")
    stats.add_row("N (trials in this run, tuned trials included)", str(summary.get("n_trials")))
    stats.add_row("N (trials toward the goal, for the DSR)", str(dsr.get("n_trials", "n/a")))
    stats.add_row("DSR of the best candidate", _fmt(dsr.get("dsr")))
    stats.add_row(
        "PBO (CSCV)",
        _fmt(pbo.get("pbo"))
        + (
            f" ({pbo.get('n_blocks')} blocks, {pbo.get('n_combinations')} combinations)"
            if pbo.get("pbo") is not None
            else f" ({pbo.get('reason', 'not computed')})"
        ),
    )
    parts.append(stats)
    return Group(*parts)


def _holdout_table(h: dict[str, Any]) -> Any:
    if not h.get("evaluated"):
        return Text(f"Holdout: not evaluated ({h.get('reason', 'no candidate finished')})")
    params = _params_text(h.get("params") or {}) or "registry defaults"
    t = Table(
        title=f"Holdout verdict for {h.get('candidate')}: "
        + ("goal MET" if h.get("met") else "goal NOT met")
        + f" ({h.get('period', '')}; model params: {params})"
    )
    for col in ("metric", "constraint", "holdout value", "in sample", "holds"):
        t.add_column(col)
    for c in h.get("constraints", []):
        t.add_row(
            c["metric"],
            f"{c['op']} {c['target']:g}",
            _fmt(c.get("actual")),
            _fmt(c.get("in_sample")),
            "yes" if c["passed"] else "no",
        )
    return t


def write_html(run: dict[str, Any], path: Path) -> Path:
    """Write the HTML report of a finished search run to ``path`` (atomically)."""
    import plotly.graph_objects as go

    summary = run.get("summary") or {}
    figs: list[str] = []
    equity = summary.get("equity") or {}
    if equity:
        fig = go.Figure()
        for name, points in equity.items():
            fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=name))
        fig.update_layout(title="Equity of the top candidates (in sample, net of costs)")
        figs.append(fig.to_html(full_html=False, include_plotlyjs="inline"))
    h = summary.get("holdout") or {}
    if h.get("evaluated"):
        names = [c["metric"] for c in h.get("constraints", [])]
        fig = go.Figure(
            [
                go.Bar(name="in sample", x=names, y=[c.get("in_sample") for c in h["constraints"]]),
                go.Bar(name="holdout", x=names, y=[c.get("actual") for c in h["constraints"]]),
            ]
        )
        fig.update_layout(title=f"In sample vs holdout: {h.get('candidate')}", barmode="group")
        figs.append(fig.to_html(full_html=False, include_plotlyjs=not figs and "inline"))
        if h.get("equity"):
            pts = h["equity"]
            fig = go.Figure(
                go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name="holdout")
            )
            fig.update_layout(title="Equity of the best candidate on the holdout")
            figs.append(fig.to_html(full_html=False, include_plotlyjs=not figs and "inline"))
    sharpes = [s for s in summary.get("trial_sharpes") or [] if s is not None]
    if sharpes:
        fig = go.Figure(go.Histogram(x=sharpes, name="trial Sharpe"))
        fig.update_layout(title=f"Distribution of the trials' Sharpe ratios (N={len(sharpes)})")
        figs.append(fig.to_html(full_html=False, include_plotlyjs=not figs and "inline"))
    data = json.dumps(report_data(run), indent=1, default=str)
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>mlTrainer search {escape(run['id'])}</title></head><body>"
        f"<h1>Search {escape(run['id'])}: {escape(str(run.get('finish_reason') or run['status']))}"
        f"</h1><p>Goal: {escape(str(summary.get('goal', '')))}</p>"
        + "".join(figs)
        + f"<h2>Data</h2><pre>{escape(data)}</pre></body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, html)
    return path


def summary_text(run: dict[str, Any]) -> str:
    """A run in a few plain sentences, every figure read from its rows (what the agent says
    to "how is the search going?" and when it announces a finished run)."""
    reason = f" ({run['finish_reason']})" if run.get("finish_reason") else ""
    lines = [
        f"Run {run['id']} ({run.get('kind', 'run')}): {run['status']}{reason}, "
        f"{run.get('steps_done', 0)} of {run.get('steps_total', 0)} steps final."
    ]
    steps = run.get("steps") or []
    for s in steps:
        prog = s.get("progress") or {}
        if s.get("status") == "running" and prog:
            lines.append(
                f"Step {s['seq']} is running: fold {prog.get('folds_done')} of "
                f"{prog.get('folds_total')}."
            )
    scored = [
        s
        for s in steps
        if s.get("status") == "succeeded"
        and isinstance((s.get("metrics") or {}).get("sharpe"), int | float)
    ]
    summary = run.get("summary") or {}
    if scored and not summary:
        top = max(scored, key=lambda s: s["metrics"]["sharpe"])
        lines.append(
            f"Best so far (in sample): step {top['seq']} ({top.get('trial_id')}), "
            f"Sharpe {_fmt(top['metrics']['sharpe'])}."
        )
    failed = [s for s in steps if s.get("status") in ("failed", "refused")]
    if failed:
        lines.append(f"{len(failed)} step(s) failed or were refused.")
    if summary:
        if summary.get("best"):
            dsr = summary.get("run_dsr") or {}
            board = summary.get("leaderboard") or [{}]
            lines.append(
                f"Best in sample: {summary['best']} with {_tuned_text(board[0])} (DSR "
                f"{_fmt(dsr.get('dsr'))} over N={dsr.get('n_trials')} trials toward the goal)."
            )
        pbo = (summary.get("pbo") or {}).get("pbo")
        if pbo is not None:
            lines.append(f"PBO {_fmt(pbo)}.")
        h = summary.get("holdout") or {}
        if h.get("evaluated"):
            checks = "; ".join(
                f"{c['metric']} {_fmt(c.get('actual'))} {'holds' if c['passed'] else 'fails'} "
                f"{c['op']} {c['target']:g}"
                for c in h.get("constraints", [])
            )
            verdict = "the goal is MET" if h.get("met") else "the goal is NOT met"
            lines.append(f"On the sealed holdout {verdict}: {checks}.")
    if run.get("error"):
        lines.append(f"Error: {run['error']}")
    return " ".join(lines)
