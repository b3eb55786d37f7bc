"""Research: start a goal-driven search with a budget, follow it live, read its verdict.

The run is polled every few seconds while it is active (a fragment reruns, not the whole
page). While it runs, the leaderboard is its finished steps as the API reports them; when
it ends, the API's summary gives the ranked candidates, the holdout verdict (judged once,
on data no trial saw), PBO and the run's deflated Sharpe ratio.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..client import ApiClient, ApiError
from ..common import api, guard, literal, num, pct
from ..schemas import ResearchReport, Run
from ..sidebar import goal_line

__all__ = ["render"]

POLL_S = 2.0
RUN_KEY = "research_run"
PICK_KEY = "research_pick"


def _start_form(client: ApiClient, expanded: bool) -> None:
    with st.expander("Start a search", expanded=expanded), guard("goal"):
        goal = client.goal()
        if goal is None:
            st.info(
                "Set a goal with a measurable constraint in the sidebar first (e.g. "
                "“momentum on SPX, Sharpe above 1 over 7-12 days”)."
            )
            return
        st.markdown("Searching toward: " + goal_line(goal))
        with st.form("research_form", border=False):
            c1, c2 = st.columns(2)
            symbol = c1.text_input("Symbol", value="SPX", key="research_symbol")
            max_trials = c2.number_input(
                "Max trials", min_value=1, max_value=10_000, value=6, step=1, key="research_trials"
            )
            c3, c4 = st.columns(2)
            max_minutes = c3.number_input(
                "Max minutes",
                min_value=0.5,
                max_value=43_200.0,
                value=10.0,
                step=0.5,
                key="research_minutes",
            )
            max_folds = c4.number_input(
                "Folds per trial (0 = all)",
                min_value=0,
                max_value=1000,
                value=4,
                step=1,
                help="Keep only the last N walk-forward folds of each trial: a quicker search",
                key="research_folds",
            )
            tune = st.number_input(
                "Tuned trials per candidate",
                min_value=1,
                max_value=500,
                value=1,
                step=1,
                help="Optuna trials for candidates with a search space (1 = registry defaults)",
                key="research_tune",
            )
            go = st.form_submit_button("Start search", type="primary", icon=":material/play_arrow:")
        if go:
            with guard("the search did not start"):
                started = client.start_research(
                    symbol=symbol.strip() or "SPX",
                    max_trials=int(max_trials),
                    max_minutes=float(max_minutes),
                    max_folds=int(max_folds) or None,
                    tune_trials=int(tune),
                    goal_id=goal.id,
                )
                st.session_state[RUN_KEY] = started.run_id
                st.session_state[PICK_KEY] = started.run_id  # the picker shows the new run
                st.query_params["run"] = started.run_id
                hold = started.holdout
                st.success(
                    literal(
                        f"Started {started.run_id} on {started.symbol}; holdout sealed from "
                        f"{hold.get('sealed_from', '?')} (trials read data up to "
                        f"{hold.get('in_sample_end', '?')})."
                    )
                )


def _pick_run(client: ApiClient) -> str | None:
    with guard("runs"):
        runs = [r for r in client.runs(limit=50).data if r.kind == "search"]
        wanted = st.query_params.get("run") or st.session_state.get(RUN_KEY)
        ids = [r.id for r in runs]
        if wanted and wanted not in ids:
            ids.insert(0, wanted)
        if not ids:
            st.caption("No search run yet.")
            return None
        # no status in the label: the picker is not refreshed while the panel polls
        labels = {r.id: f"{r.id} · {r.owner}" for r in runs}
        chosen = st.selectbox(
            "Search run",
            ids,
            index=ids.index(wanted) if wanted in ids else 0,
            format_func=lambda i: labels.get(i, i),
            key=PICK_KEY,
        )
        if chosen != st.query_params.get("run"):
            st.query_params["run"] = chosen
        return str(chosen)
    return None


def _controls(client: ApiClient, run: Run) -> None:
    verbs = []
    if run.status in ("queued", "running"):
        verbs.append(("pause", "Pause", ":material/pause:"))
    if run.status == "paused":
        verbs.append(("resume", "Resume", ":material/play_arrow:"))
    if run.status == "proposed":
        verbs.append(("approve", "Approve", ":material/check:"))
    if run.active:
        verbs.append(("cancel", "Cancel", ":material/stop:"))
    if not verbs:
        return
    cols = st.columns(len(verbs))
    for col, (verb, label, icon) in zip(cols, verbs, strict=True):
        if col.button(label, icon=icon, key=f"run_{verb}_{run.id}"):
            with guard(f"{label.lower()} failed"):
                client.control_run(run.id, verb)
                st.rerun()


def _step_rows(run: Run) -> list[dict[str, Any]]:
    rows = []
    for s in run.steps or []:
        m = (s.outcome or {}).get("metrics") or {}
        prog = s.progress or {}
        folds = f"{prog.get('folds_done')}/{prog.get('folds_total')}" if prog else ""
        rows.append(
            {
                "step": s.seq,
                "action": s.action,
                "model": s.params.get("model_id", ""),
                "status": s.status,
                "folds": folds,
                "Sharpe": num(m.get("sharpe")) if m else "",
                "DSR": num(m.get("dsr")) if m else "",
                "max drawdown": pct(m.get("max_drawdown")) if m else "",
                "trial": s.trial_id or "",
                "error": (s.error or "")[:120],
            }
        )
    return rows


def _progress(run: Run, rep: ResearchReport | None) -> None:
    budget = (rep.budget if rep else None) or {}
    with st.container(border=True, key="run_status"):
        reason = f" ({run.finish_reason})" if run.finish_reason else ""
        st.markdown(f"**{literal(run.id)}** · {literal(run.status + reason)}")
        st.markdown(
            f"steps done: **{run.steps_done}** of {run.steps_total} planned so far"
            + (
                f" · budget {budget.get('max_trials')} trials / {budget.get('max_minutes')} min"
                if budget
                else ""
            ),
        )
        if run.steps_total:
            st.progress(min(1.0, run.steps_done / run.steps_total))
        for s in run.steps or []:
            prog = s.progress or {}
            if s.status == "running" and prog.get("folds_total"):
                st.progress(
                    min(1.0, prog["folds_done"] / prog["folds_total"]),
                    text=f"step {s.seq} {s.params.get('model_id', s.action)}: folds "
                    f"{prog['folds_done']}/{prog['folds_total']}",
                )
        if run.error:
            st.error(literal(run.error))


def _summary(summary: dict[str, Any]) -> None:
    import pandas as pd

    st.markdown("**Leaderboard** (in sample: walk-forward before the sealed holdout)")
    board = summary.get("leaderboard") or []
    if board:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "#": i,
                        "candidate": r.get("candidate"),
                        "Sharpe": num(r.get("sharpe")),
                        "DSR": num(r.get("dsr")),
                        "max drawdown": pct(r.get("max_drawdown")),
                        "CAGR": pct(r.get("cagr")),
                        "goal": f"{r.get('constraints_passed')}/{r.get('constraints_total')}",
                        "trials": r.get("n_trials"),
                        "trial": r.get("trial_id"),
                    }
                    for i, r in enumerate(board, 1)
                ]
            ),
            hide_index=True,
            height=min(360, 38 + 35 * len(board)),
        )
    else:
        st.caption("No candidate finished.")
    hold = summary.get("holdout") or {}
    with st.container(border=True, key="holdout_verdict"):
        st.markdown("**Holdout verdict**")
        if not hold.get("evaluated"):
            st.info(literal(hold.get("reason") or "The holdout was not evaluated."))
        else:
            verdict = "met" if hold.get("met") else "not met"
            (st.success if hold.get("met") else st.warning)(
                literal(
                    f"Goal {verdict} on the sealed holdout ({hold.get('period', '')}) by "
                    f"{hold.get('candidate')}: {hold.get('reason', '')}"
                )
            )
            cons = hold.get("constraints") or []
            if cons:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "metric": c.get("metric"),
                                "rule": f"{c.get('op')} {c.get('target')}",
                                "holdout": num(c.get("actual")),
                                "in sample": num(c.get("in_sample")),
                                "passed": "yes" if c.get("passed") else "no",
                            }
                            for c in cons
                        ]
                    ),
                    hide_index=True,
                )
    pbo, dsr = summary.get("pbo") or {}, summary.get("run_dsr") or {}
    with st.container(horizontal=True, key="overfitting"):
        st.metric("PBO", num(pbo.get("pbo")), help=pbo.get("reason"), border=True, width=160)
        st.metric("Run DSR", num(dsr.get("dsr")), border=True, width=160)
        st.metric("Trials (N)", num(summary.get("n_trials")), border=True, width=160)


def _panel(client: ApiClient, run_id: str) -> None:
    with guard("run"):
        run = client.run(run_id)
        try:
            rep: ResearchReport | None = client.research_report(run_id)
        except ApiError:
            rep = None
        _progress(run, rep)
        _controls(client, run)
        rows = _step_rows(run)
        if rows:
            import pandas as pd

            st.markdown("**Steps**")
            st.dataframe(pd.DataFrame(rows), hide_index=True, height=min(360, 38 + 35 * len(rows)))
        summary = (rep.summary if rep else None) or run.summary
        if summary:
            _summary(summary)
        elif not run.active:
            st.caption("The run ended without a summary.")
        was_active = st.session_state.get(f"active_{run_id}")
        st.session_state[f"active_{run_id}"] = run.active
        if was_active and not run.active:
            st.rerun()  # the whole page: stop polling


def _has_runs(client: ApiClient) -> bool:
    try:
        return any(r.kind == "search" for r in client.runs(limit=50).data)
    except ApiError:
        return False


def render() -> None:
    client = api()
    st.title("Research", anchor=False)
    # the run being followed comes first (what a phone shows without scrolling); it is
    # drawn after the form so a search started there is the one shown
    followed = st.container()
    _start_form(client, expanded=not (st.query_params.get("run") or _has_runs(client)))
    with followed:
        run_id = _pick_run(client)
        if run_id is None:
            return
        try:
            active = client.run(run_id).active
        except ApiError:
            active = False
        st.fragment(_panel, run_every=POLL_S if active else None)(client, run_id)
