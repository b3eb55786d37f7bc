"""Trials: a filtered table, and one trial's page (``?trial=<id>``) with its metrics
against buy-and-hold, its provenance, the equity and drawdown chart, and a replay button.

Every number shown is one the API returned; the page only rounds it for display.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..client import ApiClient, ApiError
from ..common import api, code, guard, literal, num, pct
from ..schemas import Trial, TrialEquity

__all__ = ["render", "equity_figure"]

PAGE_SIZE = 50
_HEADLINE = (
    ("sharpe", "Sharpe", num),
    ("cagr", "CAGR", pct),
    ("max_drawdown", "Max drawdown", pct),
    ("sortino", "Sortino", num),
    ("volatility", "Volatility", pct),
    ("hit_rate", "Hit rate", pct),
    ("calmar", "Calmar", num),
    ("dsr", "DSR / PSR", num),
)
_PCT = {"cagr", "max_drawdown", "volatility", "hit_rate", "total_return", "exposure"}


def equity_figure(eq: TrialEquity, model_id: str) -> Any:
    """Plotly: equity (top) and drawdown (bottom) of the strategy against buy-and-hold,
    sized by the page (responsive), legend below so a phone keeps the plot's width."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ts = [p.ts for p in eq.data]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06
    )
    fig.add_trace(
        go.Scatter(x=ts, y=[p.strategy for p in eq.data], name=f"{model_id} (net)"), row=1, col=1
    )
    fig.add_trace(
        go.Scatter(
            x=ts, y=[p.buy_and_hold for p in eq.data], name="buy and hold", line={"dash": "dot"}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=ts,
            y=[p.strategy_drawdown for p in eq.data],
            name=f"{model_id} drawdown",
            fill="tozeroy",
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=ts,
            y=[p.buy_and_hold_drawdown for p in eq.data],
            name="buy-and-hold drawdown",
            line={"dash": "dot"},
        ),
        row=2,
        col=1,
    )
    fig.update_layout(
        autosize=True,
        height=460,
        margin={"l": 8, "r": 8, "t": 24, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return fig


def _metrics(t: Trial) -> None:
    m, bh = t.metrics or {}, t.benchmark or {}
    with st.container(horizontal=True, key="trial_metrics"):  # flows: 2 a row on a phone
        for k, label, f in _HEADLINE:
            if k in m:
                help_ = f"buy and hold: {f(bh[k])}" if k in bh else None
                st.metric(label, f(m[k]), help=help_, border=True, width=165)
    if m:
        import pandas as pd

        rows = [
            {
                "metric": k,
                "strategy": (pct if k in _PCT else num)(v),
                "buy and hold": (pct if k in _PCT else num)(bh[k]) if k in bh else "",
            }
            for k, v in m.items()
        ]
        with st.expander("All metrics against buy-and-hold"):
            st.dataframe(pd.DataFrame(rows), hide_index=True, height=320)


def _provenance(t: Trial) -> None:
    spec = t.spec or {}
    lines = [
        ("data SHA-256", t.data_hash or "n/a"),
        ("source", t.source),
        ("spec hash", t.spec_hash),
        ("period", f"{spec.get('start') or 'first bar'} .. {spec.get('end') or 'last bar'}"),
        ("counted trials (DSR)", num(t.n_trials) if t.n_trials is not None else "n/a"),
    ]
    if t.goal_id:
        lines.append(("goal", t.goal_id))
    if t.study:
        lines.append(("study", t.study))
    with st.container(border=True, key="trial_provenance"):
        st.markdown("**Provenance**")
        for label, value in lines:
            st.markdown(f"{literal(label)}: {code(value)}")
        if t.versions:
            st.markdown(
                "versions: "
                + ", ".join(f"{literal(k)} {literal(v)}" for k, v in sorted(t.versions.items()))
            )
        with st.expander("Trial spec"):
            st.json(spec, expanded=True)


def _chart(client: ApiClient, t: Trial) -> None:
    with guard("equity chart"):
        eq = client.trial_equity(t.id)
        if not eq.data:
            st.info("This trial has no out-of-sample bars to chart.")
            return
        st.plotly_chart(
            equity_figure(eq, t.model_id),
            width="stretch",
            config={"responsive": True, "displaylogo": False},
            key="trial_chart",
        )


def _replay(client: ApiClient, t: Trial) -> None:
    if st.button(
        "Replay", icon=":material/replay:", help="Re-run from the stored spec and compare"
    ):
        with guard("replay"), st.spinner("Replaying the trial…"):
            rep = client.replay(t.id)
            if rep.identical:
                st.success("Replay identical: every stored value was reproduced.")
            else:
                st.error("Replay differs from the stored trial:")
                st.json(rep.model_dump(mode="json"), expanded=True)


def detail(client: ApiClient, trial_id: str) -> None:
    if st.button("All trials", icon=":material/arrow_back:", type="tertiary"):
        st.query_params.clear()
        st.rerun()
    with guard():
        t = client.trial(trial_id)
        st.title(f"Trial {t.id}", anchor=False)
        st.markdown(
            f"**{literal(t.model_id)}** on **{literal(t.symbol)}** ({literal(t.source)}) · "
            f"{literal(t.status)} · created {literal((t.created_at or '')[:19])}"
        )
        if t.error:
            st.error(literal(t.error))
        _metrics(t)
        _chart(client, t)
        _provenance(t)
        _replay(client, t)


def _options(client: ApiClient) -> tuple[list[str], list[str]]:
    try:
        models = sorted({m.id for m in client.models().data})
        symbols = sorted({e.symbol for e in client.catalogue().data})
    except ApiError:
        return [], []
    return models, symbols


def table(client: ApiClient) -> None:
    st.title("Trials", anchor=False)
    models, symbols = _options(client)
    c1, c2, c3 = st.columns([2, 2, 1])
    model = c1.selectbox("Model", ["all", *models], key="trials_model")
    symbol = c2.selectbox("Symbol", ["all", *symbols], key="trials_symbol")
    page_no = c3.number_input("Page", min_value=1, value=1, step=1, key="trials_page")
    with guard("trials"):
        res = client.trials(
            model_id=None if model == "all" else model,
            symbol=None if symbol == "all" else symbol,
            limit=PAGE_SIZE,
            offset=(int(page_no) - 1) * PAGE_SIZE,
        )
        st.caption(f"{res.count:,} trials match; newest first. Select a row to open it.")
        if not res.data:
            st.info("No trial yet: ask the agent in the Chat, e.g. “train ridge on SPX”.")
            return
        import pandas as pd

        df = pd.DataFrame(
            [
                {
                    "trial": t.id,
                    "model": t.model_id,
                    "symbol": t.symbol,
                    "status": t.status,
                    "Sharpe": num((t.metrics or {}).get("sharpe", t.sharpe)),
                    "max drawdown": pct((t.metrics or {}).get("max_drawdown")),
                    "created": (t.created_at or "")[:16].replace("T", " "),
                }
                for t in res.data
            ]
        )
        event: Any = st.dataframe(
            df,
            hide_index=True,
            height=min(420, 38 + 35 * len(df)),
            on_select="rerun",
            selection_mode="single-row",
            key="trials_table",
        )
        rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
        if rows:
            st.query_params["trial"] = str(df.iloc[rows[0]]["trial"])
            st.rerun()


def render() -> None:
    client = api()
    trial_id = st.query_params.get("trial")
    if trial_id:
        detail(client, trial_id)
    else:
        table(client)
