"""Audit: whether the hash chain and the seals verify, and the newest records."""

from __future__ import annotations

import json

import streamlit as st

from ..common import api, guard, literal

__all__ = ["render"]


def render() -> None:
    client = api()
    st.title("Audit", anchor=False)
    with guard("verification"), st.container(border=True, key="audit_verify"):
        v = client.audit_verify()
        if v.ok:
            st.success(
                f"The audit log verifies: {v.records:,} records, {v.checkpoints:,} "
                f"checkpoints, {v.seals:,} seals.",
                icon=":material/verified:",
            )
        else:
            where = f" at record {v.first_bad_seq}" if v.first_bad_seq is not None else ""
            st.error(
                literal(f"The audit log does NOT verify{where}: {v.problem or 'see the CLI'}"),
                icon=":material/gpp_bad:",
            )
            if v.first_bad_subject:
                st.caption(literal(f"first broken seal: {v.first_bad_subject}"))
        if v.unsealed:
            st.warning(literal("unsealed: " + ", ".join(v.unsealed[:20])))
    c1, c2 = st.columns([3, 1])
    kind = c1.text_input("Kind", placeholder="e.g. action, trial.done, goal.set", key="audit_kind")
    n = c2.number_input("Records", min_value=1, max_value=10_000, value=50, key="audit_n")
    with guard("records"):
        recs = client.audit_tail(n=int(n), kind=kind.strip() or None).data
        if not recs:
            st.info("No record matches.")
            return
        import pandas as pd

        df = pd.DataFrame(
            [
                {
                    "seq": r.seq,
                    "time": r.ts[:19].replace("T", " "),
                    "kind": r.kind,
                    "actor": r.actor,
                    "payload": json.dumps(r.payload, ensure_ascii=False)[:300],
                    "hash": r.hash[:16],
                }
                for r in sorted(recs, key=lambda r: r.seq, reverse=True)  # newest first
            ]
        )
        st.dataframe(df, hide_index=True, height=min(480, 38 + 35 * len(df)))
