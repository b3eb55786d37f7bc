"""``POST /api/v1/migrate``: a zip of legacy logs/, dry run by default, unpacked safely.

Zips are built in memory from the shared samples (and a few hand-written lines); the
hostile ones (path traversal, an absolute path, a symbolic link, a zip bomb, a zip that
is not one) are refused with a 422 problem body and write nothing anywhere.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mltrainer.api import API_PREFIX, create_app
from mltrainer.errors import InputError
from mltrainer.migrate import upload
from mltrainer.settings import Settings

V = API_PREFIX
SAMPLES = Path("/work/shared/legacy-samples")


def _client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        token = c.app.state.services.tokens.create("laptop", "write")  # type: ignore[attr-defined]
        yield c, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(settings)


def _zip(entries: dict[str, bytes], prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(prefix + name, data)
    return buf.getvalue()


def _samples(prefix: str = "") -> bytes:
    files = {
        p.relative_to(SAMPLES).as_posix(): p.read_bytes()
        for p in sorted(SAMPLES.rglob("*"))
        if p.is_file()
    }
    return _zip(files, prefix)


def _post(c: TestClient, h: dict[str, str], data: bytes, **params):
    return c.post(
        f"{V}/migrate",
        files={"file": ("logs.zip", data, "application/zip")},
        params=params,
        headers=h,
    )


def _problem(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == status
    return body["detail"]


def _stored(c: TestClient) -> tuple[int, int]:
    services = c.app.state.services  # type: ignore[attr-defined]
    return services.memory.count(), len(services.goals.history())


def test_an_upload_is_a_dry_run_by_default(api):
    c, h = api
    r = _post(c, h, _samples())
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["dry_run"] is True and rep["import_id"] is None
    assert rep["totals"]["imported"] == 20 and rep["goal"]["outcome"] == "restored"
    assert rep["source"] == "upload logs.zip"
    assert {f["path"] for f in rep["files"]} == {
        "logs/chat_history.json",
        "logs/goal_history.jsonl",
        "logs/memory/chat_memory.jsonl",
        "logs/mlagent_actions.jsonl",
        "logs/system_goals.json",
    }
    assert _stored(c) == (0, 0)


def test_an_upload_imports_once_and_the_goal_and_chat_are_found(api):
    c, h = api
    r = _post(c, h, _samples("export/"), dry_run="false")
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["dry_run"] is False and rep["import_id"].startswith("mig_")
    assert rep["totals"]["messages"] == 7 and rep["totals"]["goals"] == 6
    assert _stored(c) == (7, 6)
    goal = c.get(f"{V}/goals/current", headers=h).json()
    assert goal["id"] == "legacy_2538ca022e21"
    hits = c.get(f"{V}/memory/search", params={"q": "Response"}, headers=h).json()
    assert sorted(d["content"] for d in hits["data"]) == ["Response 1", "Test response", "response"]
    audit = c.app.state.services.app.audit  # type: ignore[attr-defined]
    assert audit.tail(1)[0].kind == "migrate.import" and audit.tail(1)[0].actor == "laptop"
    assert audit.verify().ok
    again = _post(c, h, _samples("export/"), dry_run="false").json()
    assert again["already_imported"] is True and again["totals"]["imported"] == 0
    assert _stored(c) == (7, 6)


@pytest.mark.parametrize(
    "name",
    ["../evil.json", "logs/../../evil.json", "/etc/evil.json", "C:/evil.json", "logs\\..\\x"],
)
def test_a_zip_that_escapes_its_folder_is_refused(api, name, tmp_path):
    c, h = api
    data = _zip({"logs/chat_history.json": b"[]", name: b'{"x": 1}'})
    detail = _problem(_post(c, h, data, dry_run="false"), 422)
    assert repr(name) in detail and "refused" in detail
    assert _stored(c) == (0, 0)


def test_a_symbolic_link_entry_is_refused(api):
    c, h = api
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("logs/chat_history.json", b"[]")
        link = zipfile.ZipInfo("logs/memory/chat_memory.jsonl")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    detail = _problem(_post(c, h, buf.getvalue()), 422)
    assert "symbolic link" in detail


def test_a_file_that_is_not_a_zip_is_refused(api):
    c, h = api
    detail = _problem(_post(c, h, b'{"messages": []}'), 422)
    assert "not a readable zip" in detail


def test_a_bad_legacy_line_in_the_zip_is_422_naming_file_and_line(api):
    c, h = api
    data = _zip({"logs/goal_history.jsonl": b'{"timestamp": "2025-07-09T10:00:00"}\n{oops}\n{}\n'})
    detail = _problem(_post(c, h, data, dry_run="false"), 422)
    assert detail.startswith("logs/goal_history.jsonl line 2: not valid JSON")
    assert _stored(c) == (0, 0)


def test_a_read_token_cannot_migrate(settings: Settings):
    for c, _h in _client(settings):
        read = c.app.state.services.tokens.create("viewer", "read")  # type: ignore[attr-defined]
        r = _post(c, {"Authorization": f"Bearer {read}"}, _samples())
        assert _problem(r, 403).startswith("token 'viewer' has scope read")


# -- the unpacking itself --------------------------------------------------------------------


def test_a_zip_bomb_stops_at_the_size_limit(tmp_path):
    bomb = _zip({"logs/chat_history.json": b"0" * 5_000_000})
    assert len(bomb) < 20_000  # deflate squeezes the zeros about 1000:1
    with pytest.raises(InputError, match="unpacks to 5,000,000 bytes; the limit is 1,000,000"):
        upload.extract_zip(io.BytesIO(bomb), tmp_path, max_bytes=1_000_000)
    assert list(tmp_path.iterdir()) == []


def test_too_many_entries_are_refused(tmp_path):
    many = _zip({f"logs/trials/t{i}.json": b"{}" for i in range(11)})
    with pytest.raises(InputError, match="11 entries; the limit is 10"):
        upload.extract_zip(io.BytesIO(many), tmp_path, max_entries=10)


def test_the_same_entry_twice_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("logs/chat_history.json", b"[]")
        zf.writestr("logs/chat_history.json", b"[]")
    with pytest.raises(InputError, match="appears twice"):
        upload.extract_zip(io.BytesIO(buf.getvalue()), tmp_path)


def test_the_temporary_folder_is_removed_whatever_happens(app, monkeypatch, tmp_path):
    from mltrainer.migrate import open_migrator

    made: list[Path] = []
    real = upload.tempfile.mkdtemp

    def mkdtemp(**kw):
        made.append(Path(real(dir=tmp_path, **kw)))
        return str(made[-1])

    monkeypatch.setattr(upload.tempfile, "mkdtemp", mkdtemp)
    m = open_migrator(app)
    rep = upload.migrate_zip(m, io.BytesIO(_samples()), filename="a.zip", dry_run=True)
    assert rep.totals.imported == 20
    with pytest.raises(InputError):
        upload.migrate_zip(m, io.BytesIO(_zip({"../x": b""})), filename="b.zip")
    assert len(made) == 2 and not any(p.exists() for p in made)
