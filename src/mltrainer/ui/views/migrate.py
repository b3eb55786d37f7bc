"""Migrate: upload a zip of a legacy ``logs/`` folder, see what a dry run would import,
then import it. The report is the API's; nothing is imported before the user asks."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from ..client import ApiError
from ..common import api, literal, num

__all__ = ["render", "show_report"]

DRY = "migrate_dry_run"
"""Session key: the digest of the file (and options) whose dry run succeeded."""
REPORT = "migrate_report"
"""Session key: the last report, with the digest of the file it is about."""
_FILE_COLUMNS = (
    "path",
    "kind",
    "status",
    "target",
    "read",
    "imported",
    "already_present",
    "duplicates",
)


def show_report(report: dict[str, Any]) -> None:
    """The migration report: its summary, totals, one row per file, then the raw JSON."""
    with st.container(border=True, key="migrate_report"):
        if report.get("summary"):
            st.markdown(literal(report["summary"]))
        if report.get("already_imported"):
            st.info("Everything in these logs was imported before: nothing new.")
        for note in report.get("notes") or []:
            st.caption(literal(note))
        totals = report.get("totals") or {}
        if totals:
            with st.container(horizontal=True):
                for key in ("read", "imported", "already_present", "messages", "goals"):
                    if key in totals:
                        label = key.replace("_", " ")
                        st.metric(label, num(totals[key]), border=True, width=140)
        files = report.get("files") or []
        if files:
            import pandas as pd

            rows = [{c: f.get(c, "") for c in _FILE_COLUMNS} for f in files]
            st.dataframe(pd.DataFrame(rows), hide_index=True, height=min(360, 38 + 35 * len(rows)))
        skipped = sum(len(f.get("skipped") or []) for f in files)
        if skipped:
            st.warning(literal(f"{skipped} bad lines were skipped (listed in the full report)"))
        goal = report.get("goal") or {}
        if goal.get("outcome") not in (None, "none"):
            st.caption(literal(f"legacy goal: {goal['outcome']}: {goal.get('detail', '')}"))
        with st.expander("Full report (JSON)"):
            st.json(report, expanded=True)


def render() -> None:
    client = api()
    st.title("Migrate legacy logs", anchor=False)
    st.caption(
        "Zip the logs/ folder of an earlier mlTrainer version and upload it. A dry run "
        "reads every file and reports what would be imported; importing runs in one "
        "transaction and imports nothing twice."
    )
    f = st.file_uploader("Zip of logs/", type=["zip"], key="migrate_file")
    skip = st.checkbox(
        "Skip bad lines (report them instead of stopping)", key="migrate_skip", value=False
    )
    if f is None:
        return
    content = f.getvalue()
    digest = hashlib.sha256(content + (b"skip" if skip else b"")).hexdigest()
    c1, c2 = st.columns(2)
    dry = c1.button("Dry run", type="primary", icon=":material/preview:")
    real = c2.button(
        "Import",
        icon=":material/download:",
        disabled=st.session_state.get(DRY) != digest,
        help="Run a dry run of this file first",
    )
    if dry or real:
        try:
            report = client.migrate(f.name, content, dry_run=not real, skip_bad_lines=skip)
        except ApiError as e:
            if e.status in (404, 405) and e.detail in ("Not Found", "Method Not Allowed"):
                st.error("This API has no /migrate route: update mlTrainer on the server.")
            else:
                st.error(literal(f"migration: {e.detail}"), icon=":material/error:")
            return
        st.session_state[REPORT] = {"digest": digest, "dry_run": not real, "report": report}
        if dry:
            st.session_state[DRY] = digest  # Import is enabled on the rerun
        else:
            st.session_state.pop(DRY, None)  # a new import needs a new dry run
        st.rerun()
    shown = st.session_state.get(REPORT)
    if not shown or shown["digest"] != digest:
        return
    if shown["dry_run"]:
        st.info("Dry run: nothing was imported. Check the report, then Import.")
    else:
        st.success("Imported.")
    show_report(shown["report"])
    st.caption(literal(f"file {f.name}, SHA-256 {hashlib.sha256(content).hexdigest()}"))
