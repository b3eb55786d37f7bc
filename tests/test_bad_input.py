"""Bad input through the real CLI entry point: a clear message, exit 2, nothing partial.

Every row of :data:`CASES` runs ``mltrainer.cli.main`` in-process (``sys.argv`` and the
environment patched, ``SystemExit`` captured) and must end with exit code 2, no traceback,
a message naming the bad value, and no new rows in trials/goals/memory/audit nor new files
under the home. Import files are a few real GOOG bars (backtesting.test) with one value
made bad, so each file breaks exactly one rule.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import make_settings
from mltrainer.app import App
from mltrainer.cli import main

TABLES = ("trials", "goals", "memory_messages", "audit_log")
TRIAL = ["trial", "run", "-m", "ridge", "-s", "SPX", "--start", "2012-01-01", "--max-folds", "2"]
BIG = "x" * 40_000  # over the default 32 KiB message cap


@dataclass
class Homes:
    main: Path
    files: Path
    garbage_db: Path
    newer_schema: Path
    a_file: Path
    policies: Path


@dataclass
class Case:
    argv: list[str]
    expect: list[str]
    env: dict[str, str] = field(default_factory=dict)
    home: str = "main"


def _goog_csv(path: Path, rows: int = 6, edit=None) -> str:
    from backtesting.test import GOOG

    df = GOOG.head(rows).copy()
    if edit is not None:
        df = edit(df)
    df.rename_axis("date").to_csv(path)
    return str(path)


def _set(col: str, value, row: int = 2):
    def edit(df):
        df = df.astype({col: "object"}) if isinstance(value, str) else df
        df.iloc[row, df.columns.get_loc(col)] = value
        return df

    return edit


def _future_dates(df):
    import pandas as pd

    df.index = pd.date_range("2099-01-02", periods=len(df), freq="D")
    return df


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> Homes:
    root = tmp_path_factory.mktemp("bad_input")
    main_home, newer = root / "home", root / "newer"
    for h in (main_home, newer):
        App(make_settings(h)).close()
    with sqlite3.connect(newer / "mltrainer.db") as c:
        c.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    garbage = root / "garbage"
    garbage.mkdir()
    (garbage / "mltrainer.db").write_bytes(b"this is not a database, just text " * 64)
    a_file = root / "a_file"
    a_file.write_text("a file, not a folder\n")
    files = root / "files"
    files.mkdir()
    (files / "folder.csv").mkdir()
    _goog_csv(files / "ok.csv")
    _goog_csv(files / "inf.csv", edit=_set("Close", float("inf")))
    _goog_csv(files / "future.csv", edit=_future_dates)
    _goog_csv(files / "one_row.csv", rows=1)
    _goog_csv(files / "negative.csv", edit=_set("Close", -5.0))
    _goog_csv(files / "high_low.csv", edit=_set("High", 1.0))
    _goog_csv(files / "dup.csv", edit=lambda df: df.set_axis([df.index[0]] * len(df)))
    _goog_csv(files / "bad_date.csv", edit=lambda df: df.set_axis(["notadate"] * len(df)))
    _goog_csv(files / "nan_close.csv", edit=_set("Close", float("nan")))
    (files / "no_date.csv").write_text("close\n1\n2\n3\n")
    (files / "prices.xlsx").write_bytes(b"PK\x03\x04")
    (files / "columns.csv").write_text("date,foo,bar\n2010-01-04,1,2\n2010-01-05,1,2\n")
    policies = root / "policies"
    policies.mkdir()
    (policies / "backref.toml").write_text("[forbidden]\necho = '(data)\\s+\\1'\n")
    (policies / "lookahead.toml").write_text("[forbidden]\npeek = 'fake(?=data)'\n")
    (policies / "broken.toml").write_text("[forbidden\nnot toml at all\n")
    return Homes(main_home, files, garbage, newer, a_file, policies)


def F(name: str) -> str:
    return f"@files/{name}"


def P(name: str) -> str:
    return f"@policies/{name}"


CASES: dict[str, Case] = {
    # -- trial run: every spec field is validated at the door ----------------------------
    "trial horizon 0": Case([*TRIAL, "--horizon", "0"], ["horizon=0"]),
    "trial horizon negative": Case([*TRIAL, "--horizon", "-5"], ["horizon=-5"]),
    "trial horizon 10^9": Case([*TRIAL, "--horizon", "1000000000"], ["horizon=1000000000"]),
    "trial start after end": Case(
        [*TRIAL[:-4], "--start", "2016-01-01", "--end", "2015-01-01"], ["2016-01-01", "2015-01-01"]
    ),
    "trial start month 13": Case([*TRIAL[:-4], "--start", "2015-13-45"], ["2015-13-45"]),
    "trial end feb 30": Case([*TRIAL, "--end", "2015-02-30"], ["2015-02-30"]),
    "trial window size 0": Case([*TRIAL, "--window-size", "0"], ["window_size=0"]),
    "trial window size huge": Case([*TRIAL, "--window-size", "99999999"], ["window_size=99999999"]),
    "trial refit 0": Case([*TRIAL, "--refit-every", "0"], ["refit_every=0"]),
    "trial embargo negative": Case([*TRIAL, "--embargo", "-1"], ["embargo=-1"]),
    "trial commission nan": Case([*TRIAL, "--commission-bps", "nan"], ["commission_bps=nan"]),
    "trial commission negative": Case([*TRIAL, "--commission-bps", "-1"], ["commission_bps=-1"]),
    "trial slippage inf": Case([*TRIAL, "--slippage-bps", "inf"], ["slippage_bps=inf"]),
    "trial position rule": Case([*TRIAL, "--position-rule", "yolo"], ["yolo"]),
    "trial window kind": Case([*TRIAL, "--window", "sliding"], ["sliding"]),
    "trial feature set": Case([*TRIAL, "--feature-set", "astrology"], ["astrology"]),
    "trial max folds 0": Case([*TRIAL[:-2], "--max-folds", "0"], ["max_folds=0"]),
    "trial seed negative": Case([*TRIAL, "--seed", "-1"], ["seed=-1"]),
    "trial unknown model": Case(
        ["trial", "run", "-m", "nosuch_model", "-s", "SPX"], ["nosuch_model"]
    ),
    "trial unknown symbol": Case(["trial", "run", "-m", "ridge", "-s", "NOSUCHSYM"], ["NOSUCHSYM"]),
    "trial empty symbol": Case(["trial", "run", "-m", "ridge", "-s", "  "], ["symbol"]),
    "trial param without value": Case([*TRIAL, "--param", "alpha"], ["alpha"]),
    "trial horizon not a number": Case([*TRIAL, "--horizon", "ten"], ["--horizon"]),
    # -- data show / list / import ---------------------------------------------------------
    "data show unknown symbol": Case(["data", "show", "APPL"], ["APPL"]),
    "data show bad start": Case(["data", "show", "SPX", "--start", "2015-13-45"], ["2015-13-45"]),
    "data show start after end": Case(
        ["data", "show", "SPX", "--start", "2016-01-01", "--end", "2015-01-01"], ["2016-01-01"]
    ),
    "data show not imported": Case(["data", "show", "NOTMINE", "--source", "file"], ["NOTMINE"]),
    "data list unknown kind": Case(["data", "list", "--kind", "bogus"], ["bogus", "ohlcv"]),
    "import missing file": Case(
        ["data", "import", F("missing.csv"), "--symbol", "X", "--vendor", "v"], ["missing.csv"]
    ),
    "import a folder": Case(
        ["data", "import", F("folder.csv"), "--symbol", "X", "--vendor", "v"], ["folder"]
    ),
    "import /dev/zero": Case(
        ["data", "import", "/dev/zero", "--symbol", "X", "--vendor", "v"], ["/dev/zero", "regular"]
    ),
    "import inf price": Case(
        ["data", "import", F("inf.csv"), "--symbol", "X", "--vendor", "v"], ["infinite", "close"]
    ),
    "import future dates": Case(
        ["data", "import", F("future.csv"), "--symbol", "X", "--vendor", "v"], ["2099-01-02"]
    ),
    "import one row": Case(
        ["data", "import", F("one_row.csv"), "--symbol", "X", "--vendor", "v"], ["1 row"]
    ),
    "import negative price": Case(
        ["data", "import", F("negative.csv"), "--symbol", "X", "--vendor", "v"], ["non-positive"]
    ),
    "import high below low": Case(
        ["data", "import", F("high_low.csv"), "--symbol", "X", "--vendor", "v"], ["high < low"]
    ),
    "import duplicate dates": Case(
        ["data", "import", F("dup.csv"), "--symbol", "X", "--vendor", "v"], ["duplicate"]
    ),
    "import unparsable dates": Case(
        ["data", "import", F("bad_date.csv"), "--symbol", "X", "--vendor", "v"], ["notadate"]
    ),
    "import missing close": Case(
        ["data", "import", F("nan_close.csv"), "--symbol", "X", "--vendor", "v"], ["missing close"]
    ),
    "import no date column": Case(
        ["data", "import", F("no_date.csv"), "--symbol", "X", "--vendor", "v"], ["timestamp"]
    ),
    "import unsupported type": Case(
        ["data", "import", F("prices.xlsx"), "--symbol", "X", "--vendor", "v"], [".xlsx"]
    ),
    "import unknown columns": Case(
        ["data", "import", F("columns.csv"), "--symbol", "X", "--vendor", "v"], ["foo"]
    ),
    "import bad symbol": Case(
        ["data", "import", F("ok.csv"), "--symbol", "no way!", "--vendor", "v"], ["NO WAY!"]
    ),
    "import empty vendor": Case(
        ["data", "import", F("ok.csv"), "--symbol", "X", "--vendor", " "], ["--vendor"]
    ),
    # -- financial run ---------------------------------------------------------------------
    "bs spot inf": Case(
        ["financial", "run", "black_scholes", "--spot", "inf", "--strike", "100"], ["spot='inf'"]
    ),
    "bs volatility nan": Case(
        ["financial", "run", "black_scholes", "--spot", "100", "--volatility", "nan"],
        ["volatility='nan'", "finite"],
    ),
    "bs spot negative": Case(
        ["financial", "run", "black_scholes", "--spot", "-1", "--strike", "100"], ["spot=-1"]
    ),
    "bs spot text": Case(
        ["financial", "run", "black_scholes", "--spot", "abc", "--strike", "100"], ["spot='abc'"]
    ),
    "bs unknown parameter": Case(
        ["financial", "run", "black_scholes", "--spot", "100", "--colour", "red"], ["colour"]
    ),
    "financial unknown model": Case(["financial", "run", "black_sholes_x"], ["black_sholes_x"]),
    "financial stray argument": Case(["financial", "run", "black_scholes", "oops"], ["oops"]),
    # -- goals, memory, audit, models, compliance, ask -------------------------------------
    "goal too long": Case(["goal", "set", BIG], ["40,000 bytes"]),
    "memory search k 0": Case(["memory", "search", "sharpe", "-k", "0"], ["-k"]),
    "memory search k negative": Case(["memory", "search", "sharpe", "-k", "-3"], ["-k"]),
    "memory search too long": Case(["memory", "search", BIG], ["40,000 bytes"]),
    "audit tail -n -1": Case(["audit", "tail", "-n", "-1"], ["-n"]),
    "audit tail -n 0": Case(["audit", "tail", "-n", "0"], ["-n"]),
    "trial list limit 0": Case(["trial", "list", "--limit", "0"], ["--limit"]),
    "models list unknown family": Case(
        ["models", "list", "--family", "nosuch"], ["nosuch", "lightgbm"]
    ),
    "models list unknown task": Case(["models", "list", "--task", "dreaming"], ["dreaming"]),
    "models show unknown": Case(["models", "show", "nosuch_model"], ["nosuch_model"]),
    "trial show unknown": Case(["trial", "show", "t_nosuch"], ["t_nosuch"]),
    "compliance text too long": Case(["compliance", "check", BIG], ["40,000 bytes"]),
    "compliance policy backreference": Case(
        ["compliance", "check", "hello"],
        ["backref.toml", "echo", "RE2"],
        {"POLICY_FILE": P("backref.toml")},
    ),
    "compliance policy lookahead": Case(
        ["compliance", "check", "hello"],
        ["lookahead.toml", "peek"],
        {"POLICY_FILE": P("lookahead.toml")},
    ),
    "compliance policy not toml": Case(
        ["compliance", "check", "hello"], ["broken.toml"], {"POLICY_FILE": P("broken.toml")}
    ),
    "compliance policy missing": Case(
        ["compliance", "check", "hello"], ["nope.toml"], {"POLICY_FILE": P("nope.toml")}
    ),
    "ask too long": Case(["ask", BIG], ["40,000 bytes"]),
    "ask bogus provider": Case(
        ["ask", "hello"], ["MLTRAINER_LLM_PROVIDER", "bogus"], {"LLM_PROVIDER": "bogus"}
    ),
    # -- settings and the home, validated at start -------------------------------------------
    "env http retries abc": Case(
        ["data", "list"], ["MLTRAINER_HTTP_RETRIES='abc'"], {"HTTP_RETRIES": "abc"}
    ),
    "env http retries negative": Case(
        ["data", "list"], ["MLTRAINER_HTTP_RETRIES='-1'"], {"HTTP_RETRIES": "-1"}
    ),
    "env http timeout nan": Case(
        ["data", "list"], ["MLTRAINER_HTTP_TIMEOUT_S='nan'"], {"HTTP_TIMEOUT_S": "nan"}
    ),
    "env llm max steps 0": Case(
        ["models", "list"], ["MLTRAINER_LLM_MAX_STEPS='0'"], {"LLM_MAX_STEPS": "0"}
    ),
    "env max message bytes": Case(
        ["data", "list"], ["MLTRAINER_MAX_MESSAGE_BYTES='lots'"], {"MAX_MESSAGE_BYTES": "lots"}
    ),
    "env polygon url": Case(
        ["data", "list"], ["MLTRAINER_POLYGON_BASE_URL='ftp://x'"], {"POLYGON_BASE_URL": "ftp://x"}
    ),
    "env database url garbage": Case(
        ["data", "list"], ["MLTRAINER_DATABASE_URL='garbage'"], {"DATABASE_URL": "garbage"}
    ),
    "env database url unknown dialect": Case(
        ["data", "list"], ["nosuchdb"], {"DATABASE_URL": "nosuchdb://u:hunter2@localhost/x"}
    ),
    "env home is a file": Case(["data", "list"], ["MLTRAINER_HOME", "a_file"], home="a_file"),
    "env home below a file": Case(
        ["data", "list"], ["MLTRAINER_HOME", "a_file"], home="below_file"
    ),
    "env home not writable": Case(
        ["data", "list"], ["MLTRAINER_HOME=/sys/mltrainer-home", "not permitted"], home="unwritable"
    ),
    "env home empty": Case(["data", "list"], ["MLTRAINER_HOME", "empty"], home="empty"),
    "garbage database file": Case(
        ["data", "list"], ["mltrainer.db", "not a database"], home="garbage_db"
    ),
    "newer schema database": Case(
        ["audit", "tail"], ["ffffffffffff", "newer"], home="newer_schema"
    ),
}


def _home_for(case: Case, homes: Homes) -> tuple[str, Path | None]:
    """(MLTRAINER_HOME value, folder whose rows and files must not change)."""
    if case.home == "a_file":
        return str(homes.a_file), None
    if case.home == "below_file":
        return str(homes.a_file / "home"), None
    if case.home == "empty":
        return "", None
    if case.home == "unwritable":  # refused even to root: sysfs takes no new folders
        return "/sys/mltrainer-home", None
    path = getattr(homes, case.home)
    return str(path), path


def _snapshot(home: Path | None) -> tuple[dict[str, int], set[str]]:
    if home is None:
        return {}, set()
    files = {  # data files; SQLite's side files and the migration lock come and go
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal", ".lock"))
    }
    counts: dict[str, int] = {}
    db = home / "mltrainer.db"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            for t in TABLES:
                counts[t] = c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    except sqlite3.DatabaseError:
        counts = {"unreadable": -1}
    return counts, files


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """``mltrainer ARGV`` through the console-script entry point; (exit code, all output)."""
    old = sys.argv
    sys.argv = ["mltrainer", *argv]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out + out.err


def _squash(text: str) -> str:
    """Output without whitespace: Rich wraps long messages at the console width."""
    return "".join(text.split())


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_error_with_exit_2(name, homes, monkeypatch, capsys):
    case = CASES[name]
    home, watched = _home_for(case, homes)
    monkeypatch.setenv("MLTRAINER_HOME", home)
    monkeypatch.setenv("MLTRAINER_LLM_PROVIDER", "offline")
    for k, v in case.env.items():
        v = v.replace("@policies", str(homes.policies))
        monkeypatch.setenv(f"MLTRAINER_{k}", v)
    argv = [a.replace("@files", str(homes.files)) for a in case.argv]
    before = _snapshot(watched)
    t0 = time.perf_counter()
    code, out = run_cli(argv, capsys)
    elapsed = time.perf_counter() - t0
    assert code == 2, out
    assert "Traceback" not in out, out
    for want in case.expect:
        assert _squash(want) in _squash(out), f"{want!r} not named in: {out}"
    assert "hunter2" not in out  # a password in a URL is never echoed
    assert _snapshot(watched) == before, "bad input left rows or files behind"
    assert elapsed < 15, f"{name} took {elapsed:.1f}s"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_read_only_home_is_a_clear_error(tmp_path, monkeypatch, capsys):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    monkeypatch.setenv("MLTRAINER_HOME", str(home))
    try:
        code, out = run_cli(["data", "list"], capsys)
    finally:
        home.chmod(0o700)
    assert code == 2 and "Traceback" not in out and str(home) in _squash(out)
