"""Models: the registry (and the financial models) by family and task, one model's details."""

from __future__ import annotations

import streamlit as st

from ..client import ApiError
from ..common import api, guard, literal

__all__ = ["render"]


def render() -> None:
    client = api()
    st.title("Models", anchor=False)
    with guard("models"):
        every = client.models().data
        families = sorted({m.family for m in every})
        tasks = sorted({m.task for m in every})
        c1, c2 = st.columns(2)
        family = c1.selectbox("Family", ["all", *families], key="models_family")
        task = c2.selectbox("Task", ["all", *tasks], key="models_task")
        res = client.models(
            family=None if family == "all" else family, task=None if task == "all" else task
        )
        st.caption(f"{res.count} models")
        import pandas as pd

        df = pd.DataFrame(
            [
                {
                    "id": m.id,
                    "family": m.family,
                    "task": m.task,
                    "available": "yes" if m.available else "no",
                    "description": m.description,
                }
                for m in res.data
            ]
        )
        if df.empty:
            st.info("No model matches.")
            return
        st.dataframe(df, hide_index=True, height=min(420, 38 + 35 * len(df)))
        chosen = st.selectbox("Details of", list(df["id"]), key="models_pick")
        if chosen:
            try:
                d = client.model(chosen)
            except ApiError as e:  # a financial model is not in the registry
                if e.status != 404:
                    raise
                st.caption("A financial model: run it from the Chat (e.g. “price a call”).")
                return
            st.markdown(
                f"**{literal(d.id)}** · {literal(d.family)} · {literal(d.task)} · "
                f"library {literal(d.library)}"
            )
            st.markdown(literal(d.description))
            if not d.available:
                st.warning(literal(d.install_hint or "not available on this installation"))
            c1, c2 = st.columns(2)
            with c1:
                st.markdown("**Defaults**")
                st.json(d.defaults, expanded=True)
            with c2:
                st.markdown("**Search space**")
                st.json(d.search_space, expanded=True)
