"""One module per page, each with ``render()`` (see :mod:`mltrainer.ui.nav`).

Not named ``pages/``: Streamlit would then also serve each file as a page script of its
own (its older multipage mode), outside the app's navigation and sidebar.
"""
