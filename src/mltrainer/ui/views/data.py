"""Data: the offline catalogue, one symbol's summary and provenance, and uploading a CSV
or Parquet export with its declared vendor (the ``file`` source)."""

from __future__ import annotations

import streamlit as st

from ..client import ApiClient
from ..common import api, code, guard, literal, num, pct
from ..schemas import SymbolSummary

__all__ = ["render"]


def _summary(s: SymbolSummary, key: str) -> None:
    with st.container(border=True, key=key):
        st.markdown(
            f"**{literal(s.symbol)}** · {literal(s.kind)} · {s.rows:,} rows · "
            f"{literal(s.first[:10])} .. {literal(s.last[:10])}"
        )
        c1, c2, c3 = st.columns(3)
        c1.metric("Last close", num(s.last_close))
        c2.metric("Mean return / bar", pct(s.mean_return, 3))
        c3.metric("Volatility / bar", pct(s.volatility, 3))
        st.markdown(f"SHA-256: {code(s.sha256)}")
        with st.expander("Provenance", expanded=True):
            st.json(s.provenance, expanded=True)


def _catalogue(client: ApiClient) -> None:
    with guard("catalogue"):
        entries = client.catalogue().data
        kinds = sorted({e.kind for e in entries})
        kind = st.selectbox("Kind", ["all", *kinds], key="data_kind")
        shown = [e for e in entries if kind == "all" or e.kind == kind]
        import pandas as pd

        df = pd.DataFrame(
            [
                {
                    "symbol": e.symbol,
                    "source": e.source,
                    "kind": e.kind,
                    "interval": e.interval,
                    "first": e.first[:10],
                    "last": e.last[:10],
                    "rows": e.rows,
                    "dataset": e.dataset,
                    "description": e.description,
                }
                for e in shown
            ]
        )
        st.caption(f"{len(shown)} symbols available offline")
        st.dataframe(df, hide_index=True, height=min(420, 38 + 35 * max(1, len(df))))
        pairs = [(e.symbol, e.source) for e in shown]
        if not pairs:
            return
        pick = st.selectbox(
            "Summary of",
            pairs,
            format_func=lambda p: f"{p[0]} ({p[1]})",
            key="data_pick",
        )
        if pick:
            with guard(f"{pick[0]}"):
                _summary(client.symbol(pick[0], source=pick[1]), "symbol_summary")


def _upload(client: ApiClient) -> None:
    with st.expander("Upload your own data (CSV or Parquet)"):
        st.caption(
            "Your own export, with a date column and prices. Declare where it came from: "
            "the vendor is stored with the file's SHA-256 as its provenance."
        )
        with st.form("upload_form", clear_on_submit=False, border=False):
            f = st.file_uploader("File", type=["csv", "parquet"], key="upload_file")
            c1, c2 = st.columns(2)
            symbol = c1.text_input("Symbol", placeholder="MYFUND", key="upload_symbol")
            vendor = c2.text_input(
                "Vendor", placeholder="Broker X daily export", key="upload_vendor"
            )
            sent = st.form_submit_button("Upload", type="primary", icon=":material/upload:")
        if sent:
            if f is None or not symbol.strip() or not vendor.strip():
                st.warning("Choose a file, and give its symbol and vendor.")
                return
            with guard("the upload was refused"):
                s = client.upload_data(f.name, f.getvalue(), symbol.strip(), vendor.strip())
                st.success(literal(f"Imported {s.symbol}: {s.rows:,} rows."))
                _summary(s, "upload_summary")


def render() -> None:
    client = api()
    st.title("Data", anchor=False)
    _upload(client)
    _catalogue(client)
