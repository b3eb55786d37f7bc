"""Settings, home folder, audit key file and database start-up."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import mltrainer.db as db
from mltrainer.app import App
from mltrainer.errors import ConfigError
from mltrainer.settings import Settings


def _alembic_head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).with_name("migrations")))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_app_creates_home_and_its_folders(settings: Settings):
    assert not settings.home.exists()
    with App(settings):
        pass
    for d in (settings.home, settings.cache_dir, settings.imports_dir, settings.reports_dir):
        assert d.is_dir()


def test_home_is_expanded_and_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert Settings(home="~/mlt").home == tmp_path.resolve() / "mlt"
    assert Settings(home="rel").home == tmp_path.resolve() / "rel"


def test_audit_key_file_is_created_with_mode_0600(app: App):
    key_file = app.settings.home / "audit.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes().strip()) >= 32


def test_audit_key_is_reused_across_restarts(settings: Settings):
    with App(settings) as first:
        key1 = settings.audit_key()
        first.audit.append("test.event", {"n": 1})
    with App(settings) as second:
        assert settings.audit_key() == key1
        assert second.audit.verify().ok  # records of the first run verify under the same key


def test_audit_key_readable_by_others_is_refused(settings: Settings):
    with App(settings):
        pass
    key_file = settings.home / "audit.key"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        App(settings)


def test_audit_key_file_setting_moves_the_key(settings_factory, tmp_path: Path):
    custom = tmp_path / "keys" / "chain.key"
    s = settings_factory(audit_key_file=custom)
    with App(s):
        pass
    assert custom.is_file()
    assert stat.S_IMODE(custom.stat().st_mode) == 0o600
    assert not (s.home / "audit.key").exists()


def test_database_is_upgraded_to_head_on_start(app: App):
    head = _alembic_head()
    assert head is not None
    assert db.current_revision(app.engine) == head
    tables = set(inspect(app.engine).get_table_names())
    assert {"audit_log", "audit_head", "trials", "alembic_version"} <= tables


def test_schema_head_constant_is_alembics_head():
    # upgrade() skips Alembic when the stored revision equals SCHEMA_HEAD: a migration
    # added without moving the constant would never be applied.
    assert _alembic_head() == db.SCHEMA_HEAD


def test_a_database_behind_the_head_is_still_upgraded(settings: Settings):
    from alembic import command

    with App(settings) as first:
        command.downgrade(db._alembic_config(first.engine), "0003")
        assert db.current_revision(first.engine) == "0003"
    with App(settings) as second:
        assert db.current_revision(second.engine) == db.SCHEMA_HEAD


def test_restart_on_an_upgraded_database_keeps_its_data(settings: Settings):
    with App(settings) as first:
        first.audit.append("test.event", {"n": 1})
    with App(settings) as second:
        assert db.current_revision(second.engine) == _alembic_head()
        assert second.audit.count() == 1


def test_sqlite_database_runs_in_wal_mode(app: App):
    with app.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_default_database_lives_in_home(app: App):
    assert app.settings.db_url == f"sqlite:///{app.settings.home / 'mltrainer.db'}"
    assert (app.settings.home / "mltrainer.db").is_file()


def test_database_url_override_is_used(settings_factory, tmp_path: Path):
    other = tmp_path / "elsewhere" / "research.db"
    other.parent.mkdir()
    s = settings_factory(database_url=f"sqlite:///{other}")
    with App(s) as a:
        a.audit.append("test.event", {"n": 1})
        assert db.current_revision(a.engine) == _alembic_head()
    assert other.is_file()
    assert not (s.home / "mltrainer.db").exists()


def test_vendor_keys_are_read_from_their_usual_env_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POLYGON_API_KEY", "pk-from-env")
    monkeypatch.setenv("FRED_API_KEY", "fred-from-env")
    s = Settings(home=tmp_path)
    assert s.polygon_api_key is not None
    assert s.polygon_api_key.get_secret_value() == "pk-from-env"
    assert s.fred_api_key is not None
    assert s.fred_api_key.get_secret_value() == "fred-from-env"


def test_explicit_none_keeps_env_keys_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POLYGON_API_KEY", "pk-from-env")
    assert Settings(home=tmp_path, polygon_api_key=None).polygon_api_key is None


def test_settings_fixture_has_no_keys_even_when_env_has_them(
    settings_factory, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POLYGON_API_KEY", "pk-from-env")
    monkeypatch.setenv("FRED_API_KEY", "fred-from-env")
    s = settings_factory()
    assert s.polygon_api_key is None
    assert s.fred_api_key is None


def test_keys_never_appear_in_settings_repr(settings_factory):
    s = settings_factory(polygon_api_key="pk-secret-123", fred_api_key="fred-secret-456")
    shown = repr(s) + str(s) + s.model_dump_json()
    assert "pk-secret-123" not in shown
    assert "fred-secret-456" not in shown


def test_mltrainer_env_prefix_sets_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLTRAINER_HOME", str(tmp_path / "from-env"))
    assert Settings().home == (tmp_path / "from-env").resolve()
