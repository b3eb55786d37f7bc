"""HTML (Plotly equity and drawdown) and JSON reports of a trial, written side by side."""

from __future__ import annotations

import json
from html import escape as html_escape
from pathlib import Path

import numpy as np

from ..fsio import atomic_write_text
from .counting import metric_label
from .metrics import equity_drawdown
from .spec import TrialResult

__all__ = ["write_report", "timing_text"]


def timing_text(result: TrialResult) -> str:
    """One line on execution timing and annualisation, for every place a result is shown."""
    d = result.spec.execution_delay
    fill = (
        "filled at the signal's own close (delay 0)"
        if d == 0
        else f"filled {d} bar{'s' if d > 1 else ''} after the signal (execution_delay {d})"
    )
    if result.periods_per_year is None:
        ann = "annualisation not recorded (stored before it was)"
    else:
        ann = f"annualised with {result.periods_per_year:.6g} bars/yr: {result.frequency}"
    return f"execution: {fill}; {ann}"


def write_report(result: TrialResult, trial_id: str, directory: Path) -> tuple[Path, Path]:
    """Write ``<id>.html`` and ``<id>.json``; returns both paths. Plotly JS is embedded so
    the report opens offline. Each file is written atomically: a crash leaves the old
    report or the new one, never a truncated file."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{trial_id}.json"
    atomic_write_text(
        json_path, json.dumps({"trial_id": trial_id, **result.model_dump(mode="json")}, indent=1)
    )

    ts = [e[0] for e in result.equity]
    eq = np.array([e[1] for e in result.equity])
    bh = np.array([e[2] for e in result.equity])
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05
    )
    fig.add_trace(go.Scatter(x=ts, y=eq, name=f"{result.spec.model_id} (net)"), row=1, col=1)
    fig.add_trace(go.Scatter(x=ts, y=bh, name="buy and hold", line={"dash": "dot"}), row=1, col=1)
    for series, name in ((eq, "strategy drawdown"), (bh, "buy-and-hold drawdown")):
        dd = equity_drawdown(series)
        fig.add_trace(
            go.Scatter(
                x=ts, y=dd, name=name, fill="tozeroy" if name.startswith("strategy") else None
            ),
            row=2,
            col=1,
        )
    s = result.spec
    fig.update_layout(
        title=f"{trial_id}: {s.model_id} on {s.symbol} ({s.source}), horizon {s.horizon}, "
        f"{s.window} window, execution delay {s.execution_delay}",
        height=700,
        template="plotly_white",
    )
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    shown = [
        (label, k, v)
        for k, v in result.metrics.items()
        if (label := metric_label(k, result.n_trials))
    ]
    rows = "".join(
        f"<tr><td>{html_escape(label)}</td><td>{'' if v is None else f'{v:.4f}'}</td><td>{'' if result.benchmark.get(k) is None else f'{result.benchmark[k]:.4f}'}</td></tr>"
        for label, k, v in shown
    )
    table = (
        "<h2>Metrics (out of sample, net of costs)</h2><table border=1 cellpadding=4>"
        f"<tr><th>metric</th><th>strategy</th><th>buy and hold</th></tr>{rows}</table>"
        f"<p>{html_escape(timing_text(result))}</p>"
        f"<p>data sha256 {result.data_sha256}<br>spec sha256 {result.spec_hash}</p>"
    )
    html = fig.to_html(full_html=True, include_plotlyjs=True).replace("</body>", table + "</body>")
    html_path = directory / f"{trial_id}.html"
    atomic_write_text(html_path, html)
    return html_path, json_path
