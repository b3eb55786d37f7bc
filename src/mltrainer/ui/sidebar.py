"""The sidebar of every page: the system goal (show, set, update, history) and the state of
the agent's memory (messages, topics, importance distribution)."""

from __future__ import annotations

import streamlit as st

from .common import api, guard, literal, num
from .schemas import Goal

__all__ = ["goal", "memory", "goal_line"]


def goal_line(g: Goal) -> str:
    """The goal's text and its measurable constraints, escaped for markdown."""
    cons = (g.components or {}).get("constraints") or []
    parts = [f"{c.get('metric')} {c.get('op')} {c.get('value')}" for c in cons]
    return literal(g.text) + (f"  \n*{literal('; '.join(parts))}*" if parts else "")


def _goal() -> None:
    st.subheader("Goal", anchor=False)
    shown = st.container(key="goal_current")
    with st.form("goal_form", clear_on_submit=True, border=False):
        text = st.text_area(
            "Set or update the goal",
            placeholder="momentum on SPX, Sharpe above 1 over 7-12 days",
            height=90,
            key="goal_text",
        )
        submitted = st.form_submit_button("Set goal", type="primary")
    if submitted:
        if not text.strip():
            st.warning("Write the goal first.")
        else:
            with guard("the goal was not set"):
                g = api().set_goal(text.strip())
                st.toast(f"Goal set: {g.id}")
    with shown, guard("goal"):
        current = api().goal()
        if current is None:
            st.caption("No goal is set: the agent works without one.")
        else:
            st.markdown(goal_line(current))
            st.caption(literal(f"{current.id} · set by {current.created_by}"))
    with st.expander("Goal history"), guard("goal history"):
        history = api().goal_history(limit=10)
        if not history.data:
            st.caption("No goal yet.")
        for g in history.data:
            st.markdown(f"**{literal(g.status)}** · {literal(g.text)}")
            st.caption(literal(f"{g.id} · {g.created_at[:16].replace('T', ' ')}"))


def _memory() -> None:
    st.subheader("Memory", anchor=False)
    with guard("memory"):
        stats = api().memory_stats()
        c1, c2 = st.columns(2)
        c1.metric("Messages", num(stats.total))
        c2.metric("Topics", num(len(stats.top_topics)))
        top = [str(t.get("topic")) for t in stats.top_topics[:6]]
        if top:
            st.caption("Top topics: " + literal(", ".join(top)))
        if stats.total and stats.importance_histogram:
            st.caption("Importance of stored messages")
            st.bar_chart(
                {"messages": stats.importance_histogram},
                height=140,
                x_label="importance",
                y_label="messages",
            )


def goal() -> None:
    """The goal panel; drawn before the page, so a goal set here is the page's goal."""
    with st.sidebar:
        _goal()


def memory() -> None:
    """The memory panel; drawn after the page, so it counts the turn the page just ran."""
    with st.sidebar:
        st.divider()
        _memory()
