"""Shared fixtures: isolated settings and app, and local vendor servers with real data.

Every test gets its own ``MLTRAINER_HOME`` under ``tmp_path`` and no API keys, whatever
the developer's environment holds. Vendor tests point Polygon/FRED base URLs at the local
servers of :mod:`vendor_servers` (real bundled prices in each vendor's wire format).
"""

from __future__ import annotations

import os
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
