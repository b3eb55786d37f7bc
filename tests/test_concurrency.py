"""Many real processes at once on one home: first start (migrations) and ``goal set``.

Each worker imports everything first, then waits for a ``go`` file, so the processes hit
the database at the same moment. The PostgreSQL runs use a fresh database of their own
(``mlt_test_<random>``, dropped afterwards) on 127.0.0.1:5432 and skip, saying why, when
that server cannot be reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from mltrainer import db
from mltrainer.app import App
from mltrainer.goals import GoalSystem
from mltrainer.settings import Settings

N = 8

# Every worker script starts with _WAIT: imports done, say so, wait for the common start.
_WAIT = """
import os, sys, time
open(sys.argv[1] + "." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
"""
_START = "from mltrainer.app import App\n" + _WAIT + "App().close()\n"
_GOAL_SET = (
    "from mltrainer.cli import main\n"
    + _WAIT
    + 'sys.argv = ["mltrainer", "goal", "set", sys.argv[2]]\nmain()\n'
)


def _env(home: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLTRAINER_") and not k.endswith("_API_KEY")
    }
    env["MLTRAINER_HOME"] = str(home)
    if database_url:
        env["MLTRAINER_DATABASE_URL"] = database_url
    return env


def _run_together(
    script: str, args: list[list[str]], env: dict[str, str], tmp: Path
) -> list[subprocess.CompletedProcess]:
    """Start one process per argument list, release them at once, wait for them all."""
    go = tmp / f"go-{uuid.uuid4().hex[:6]}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(go), *a],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in args
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp.glob(f"{go.name}.*"))) < len(procs) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break  # one died during its imports: report it below
        time.sleep(0.01)
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).with_name("migrations")))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _assert_all_ok(results: list[subprocess.CompletedProcess]) -> None:
    for r in results:
        assert r.returncode == 0, f"exit {r.returncode}:\n{r.stderr[-3000:]}"


def _first_start(tmp_path: Path, database_url: str | None) -> Settings:
    home = tmp_path / "home"  # does not exist yet: every process creates it
    results = _run_together(_START, [[] for _ in range(N)], _env(home, database_url), tmp_path)
    _assert_all_ok(results)
    return Settings(home=home, database_url=database_url)


@pytest.mark.slow  # starts several real processes
def test_eight_processes_start_on_a_new_sqlite_home(tmp_path: Path):
    settings = _first_start(tmp_path, None)
    with App(settings) as app:
        assert db.current_revision(app.engine) == _head()
        assert app.audit.verify().ok
    key = (settings.home / "audit.key").read_bytes()
    assert len(key) == 64 and not list(settings.home.glob("*.tmp"))


@pytest.mark.slow  # starts several real processes
def test_eight_processes_start_on_a_new_postgres_database(tmp_path: Path, pg_url: str):
    settings = _first_start(tmp_path, pg_url)
    with App(settings) as app:
        assert db.current_revision(app.engine) == _head()
        assert app.audit.verify().ok


def _concurrent_goal_sets(tmp_path: Path, database_url: str | None) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=database_url)
    with App(settings) as app:  # a first goal, so the very first writer archives one too
        GoalSystem(app.engine, app.gateway, app.audit).set_goal("momentum on SPX, Sharpe above 1")
    texts = [[f"mean reversion on AAPL, variant {i}, Sharpe above 1"] for i in range(N)]
    results = _run_together(_GOAL_SET, texts, _env(home, database_url), tmp_path)
    _assert_all_ok(results)
    with App(settings) as app:
        goals = GoalSystem(app.engine, app.gateway, app.audit).history()
        assert len(goals) == N + 1
        active = [g for g in goals if g.status == "active"]
        assert len(active) == 1
        archives = Counter(
            r.payload["goal_id"] for r in app.audit.tail(10_000, kind="goal.archive")
        )
        archived = {g.id for g in goals if g.status == "archived"}
        assert set(archives) == archived
        assert all(n == 1 for n in archives.values()), archives
        # every goal.archive record says which goal replaced it, and it is a later goal
        sets = [r.payload["goal_id"] for r in app.audit.tail(10_000, kind="goal.set")]
        assert len(sets) == N + 1 and sets[-1] == active[0].id
        assert app.audit.verify().ok


@pytest.mark.slow  # starts several real processes
def test_concurrent_goal_set_archives_each_goal_once_sqlite(tmp_path: Path):
    _concurrent_goal_sets(tmp_path, None)


@pytest.mark.slow  # starts several real processes
def test_concurrent_goal_set_archives_each_goal_once_postgres(tmp_path: Path, pg_url: str):
    _concurrent_goal_sets(tmp_path, pg_url)


@pytest.mark.slow  # starts several real processes
def test_named_lock_serialises_processes(tmp_path: Path):
    """Two processes holding the same named lock never overlap (timestamps in a file)."""
    home = tmp_path / "home"
    with App(Settings(home=home)):
        pass
    log = tmp_path / "log.txt"
    script = """
import sys, time
from mltrainer import db
from mltrainer.app import App
go, log = sys.argv[1], sys.argv[2]
import os
open(go + "." + str(os.getpid()), "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
app = App()
with db.named_lock(app.engine, "demo"):
    with open(log, "a") as fh:
        fh.write(f"in {time.monotonic()}\\n")
    time.sleep(0.3)
    with open(log, "a") as fh:
        fh.write(f"out {time.monotonic()}\\n")
"""
    _assert_all_ok(_run_together(script, [[str(log)] for _ in range(3)], _env(home), tmp_path))
    lines = [line.split()[0] for line in log.read_text().splitlines()]
    assert lines == ["in", "out"] * 3
    assert (home / ".demo.lock").exists()


def test_lock_for_write_takes_the_sqlite_write_lock_before_reading(settings: Settings):
    """A second writer cannot start while the first holds BEGIN IMMEDIATE (no lost read)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from mltrainer.db.tables import GoalRow

    with App(settings) as app:
        other = create_engine(settings.db_url, connect_args={"timeout": 0.2})
        with Session(app.engine) as s, s.begin():
            db.lock_for_write(s, "goals")
            s.scalars(select(GoalRow)).all()  # the read happens under the write lock
            with (
                Session(other) as s2,
                pytest.raises(OperationalError, match="locked"),
                s2.begin(),
            ):
                db.lock_for_write(s2, "goals")
        with Session(other) as s2, s2.begin():  # released at commit
            db.lock_for_write(s2, "goals")
        other.dispose()


def test_a_lock_file_that_cannot_be_created_is_a_clear_error(tmp_path: Path):
    from mltrainer.errors import ConfigError
    from mltrainer.fsio import file_lock

    (tmp_path / "not_a_folder").write_text("x")
    target = tmp_path / "not_a_folder" / ".migrate.lock"
    with (
        pytest.raises(ConfigError, match=r"cannot open the lock file .*not_a_folder/\.migrate"),
        file_lock(target),
    ):
        pass
