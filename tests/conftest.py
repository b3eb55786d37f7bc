"""Shared fixtures: isolated settings and app, and local vendor servers with real data.

Every test gets its own ``MLTRAINER_HOME`` under ``tmp_path`` and no API keys, whatever
the developer's environment holds. Vendor tests point Polygon/FRED base URLs at the local
servers of :mod:`vendor_servers` (real bundled prices in each vendor's wire format).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mltrainer.app import App
from mltrainer.settings import Settings
from vendor_servers import TEST_KEY, FredServer, PolygonServer

# Environment variables Settings reads besides MLTRAINER_*.
_VENDOR_ENV = ("POLYGON_API_KEY", "FRED_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or MLTRAINER_* setting from the developer's shell may leak into a test."""
    for name in list(os.environ):
        if name.startswith("MLTRAINER_") or name in _VENDOR_ENV:
            monkeypatch.delenv(name, raising=False)


def make_settings(home: Path, **overrides) -> Settings:
    """Settings rooted at ``home`` with every API key explicitly unset unless overridden."""
    keys = {
        "polygon_api_key": None,
        "fred_api_key": None,
        "anthropic_api_key": None,
        "openai_api_key": None,
    }
    return Settings(home=home, **{**keys, **overrides})


@pytest.fixture
def settings_factory(tmp_path: Path):
    """``settings_factory(**overrides)``: keyless Settings under ``tmp_path/home``."""

    def factory(**overrides) -> Settings:
        return make_settings(overrides.pop("home", tmp_path / "home"), **overrides)

    return factory


@pytest.fixture
def settings(settings_factory) -> Settings:
    return settings_factory()


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    with App(settings) as a:
        yield a


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
"""The machine's PostgreSQL server (trust auth); tests create databases of their own."""


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test only."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {e}")
    name = f"mlt_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def polygon_server() -> Iterator[PolygonServer]:
    with PolygonServer() as srv:
        yield srv


@pytest.fixture
def fred_server() -> Iterator[FredServer]:
    with FredServer() as srv:
        yield srv


@pytest.fixture
def vendor_settings(
    settings_factory, polygon_server: PolygonServer, fred_server: FredServer
) -> Settings:
    """Settings whose Polygon and FRED point at the local servers, with the test key."""
    return settings_factory(
        polygon_api_key=TEST_KEY,
        polygon_base_url=polygon_server.url,
        fred_api_key=TEST_KEY,
        fred_base_url=fred_server.url,
        http_retries=2,
        http_timeout_s=5.0,
    )


@pytest.fixture
def vendor_app(vendor_settings: Settings) -> Iterator[App]:
    with App(vendor_settings) as a:
        yield a
