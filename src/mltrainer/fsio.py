"""Crash-safe files: a reader sees the old file or the new one, never a part of either.

Every write goes to a temp file in the target's folder (same file system, so the rename is
atomic), is fsynced, then ``os.replace``d over the target; the folder is fsynced so the
rename itself survives a power cut. :class:`StagedFiles` publishes several files only if
the whole block succeeds (e.g. an import's data, its provenance and its audit record).

Temp names carry their writer, ``.NAME~host~pid~random.tmp``, so :func:`remove_stale_tmp`
can delete what a killed writer left without touching a live writer's file.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError
from .process import pid_alive, this_host

__all__ = [
    "StagedFiles",
    "atomic_write_bytes",
    "atomic_write_text",
    "create_exclusive",
    "file_lock",
    "remove_stale_tmp",
]

STALE_AFTER_S = 24 * 3600.0
"""A temp file older than this is stale whoever wrote it (pid reuse, other hosts)."""
UNKNOWN_WRITER_STALE_S = 600.0
"""Temp files without a writer in their name (older versions' ``X.parquet.tmp``)."""


def _temp_path(target: Path) -> Path:
    tag = f"{this_host()}~{os.getpid()}~{secrets.token_hex(4)}"
    return target.with_name(f".{target.name}~{tag}.tmp")


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFiles:
    """Files written to temps and published together when the ``with`` block succeeds.

    ``temp_for(target)`` gives a path to write to (for writers that want a path, such as
    ``DataFrame.to_parquet``). If the block raises, or publishing fails, every temp file
    is removed and no target is touched by the failure.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def temp_for(self, target: Path) -> Path:
        target = Path(target)
        tmp = _temp_path(target)
        self._staged.append((tmp, target))
        return tmp

    def write_bytes(self, target: Path, data: bytes) -> None:
        with open(self.temp_for(target), "wb") as fh:
            fh.write(data)

    def write_text(self, target: Path, text: str) -> None:
        self.write_bytes(target, text.encode("utf-8"))

    def publish(self) -> None:
        for tmp, _ in self._staged:
            _fsync_path(tmp)
        for tmp, target in self._staged:
            os.replace(tmp, target)
        for folder in {target.parent for _, target in self._staged}:
            _fsync_path(folder, directory=True)
        self._staged.clear()

    def discard(self) -> None:
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
            return
        try:
            self.publish()
        except BaseException:
            self.discard()
            raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with StagedFiles() as st:
        st.write_bytes(target, data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def create_exclusive(target: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create ``target`` holding ``data`` only if it does not exist; False if it did.

    The complete file appears at once (hard link of a finished temp file), so a
    concurrent reader never sees it empty or half-written.
    """
    target = Path(target)
    tmp = _temp_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_path(target.parent, directory=True)
    return True


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if absent) for the block.

    The kernel releases it when the process dies, so a crash never leaves it held.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise ConfigError(
            f"cannot open the lock file {path}: {e.strerror or e}; its folder must be writable"
        ) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_stale(path: Path, now: float) -> bool:
    try:
        age = now - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AFTER_S:
        return True
    parts = path.name.removesuffix(".tmp").rsplit("~", 3)
    if len(parts) != 4 or not parts[2].isdigit():
        return age > UNKNOWN_WRITER_STALE_S
    host, pid = parts[1], int(parts[2])
    return host == this_host() and not pid_alive(pid)


def remove_stale_tmp(folder: Path, recursive: bool = False) -> list[Path]:
    """Delete temp files left in ``folder`` by writers that died; return what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    found = folder.rglob("*.tmp") if recursive else folder.glob("*.tmp")
    removed = []
    for p in found:
        if p.is_file() and _is_stale(p, now):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
