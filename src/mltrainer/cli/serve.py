"""``mltrainer serve``: the REST API (FastAPI) under uvicorn."""

from __future__ import annotations

import typer

from ._common import err_console


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port (1-65535)."),
) -> None:
    """Serve the API under /api/v1 (bearer tokens: mltrainer token create NAME)."""
    import uvicorn

    from ..api import create_app
    from ..settings import load_settings

    settings = load_settings()
    err_console.print(f"mlTrainer API on http://{host}:{port}/api/v1 (docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
