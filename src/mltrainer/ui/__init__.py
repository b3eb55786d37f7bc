"""The web UI (Streamlit, mobile first): a client of the REST API and nothing more.

Every page reads and writes through :class:`~mltrainer.ui.client.ApiClient` (httpx), so
the UI holds no research logic and imports nothing below the interfaces layer: it only
shows what the API returns. ``mltrainer up`` runs it next to the API and the workers;
``app.py`` is the Streamlit entry point (``streamlit run .../ui/app.py``).

Importing this package loads neither Streamlit nor httpx.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["APP_PATH", "ENV_API_URL", "ENV_TOKEN"]

APP_PATH = Path(__file__).with_name("app.py")
"""The Streamlit entry script (what ``mltrainer up`` passes to ``streamlit run``)."""
ENV_API_URL = "MLTRAINER_UI_API_URL"
"""The API's base URL, e.g. ``http://127.0.0.1:8000`` (``/api/v1`` is added by the client)."""
ENV_TOKEN = "MLTRAINER_UI_TOKEN"
"""The bearer token the UI sends; ``mltrainer up`` hands it over, never in a URL."""
