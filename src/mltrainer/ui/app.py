"""The Streamlit entry point: ``streamlit run src/mltrainer/ui/app.py`` (``mltrainer up``
does this, with the API's URL and a token in ``MLTRAINER_UI_API_URL``/``MLTRAINER_UI_TOKEN``).

Wide layout on a desk, one column on a phone; the sidebar holds the goal and the memory
state; the page menu is at the top.
"""

from __future__ import annotations

import streamlit as st

from mltrainer.ui import nav, sidebar
from mltrainer.ui.common import inject_css


def main() -> None:
    st.set_page_config(
        page_title="mlTrainer",
        page_icon=":material/monitoring:",
        layout="wide",
        initial_sidebar_state="auto",
        menu_items={"About": "mlTrainer: ML trading research on real market data."},
    )
    inject_css()
    page = st.navigation(nav.pages(), position="top")
    sidebar.goal()
    page.run()
    sidebar.memory()


main()
