"""A zip of legacy ``logs/``, uploaded to the REST API, unpacked without trusting it.

:func:`extract_zip` checks every entry before it writes a byte, then counts the bytes it
actually writes (zip headers can lie about sizes):

* at most ``max_entries`` entries and ``max_bytes`` uncompressed in total (a zip bomb
  stops at the limit, however small it was compressed);
* names are relative POSIX paths: no leading ``/``, no drive letter, no backslash, no
  ``..`` part, no NUL (path traversal); nothing may land outside the target folder;
* only regular files and folders: symbolic links and devices are refused, and so are
  encrypted entries.

:func:`migrate_zip` unpacks into a temporary folder, runs the :class:`Migrator` on it and
removes the folder whatever happens. Every refusal is an :class:`InputError` (HTTP 422).
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import InputError
from .importer import Migrator
from .report import MigrationReport

__all__ = ["extract_zip", "migrate_zip", "MAX_ENTRIES", "MAX_UNCOMPRESSED_BYTES"]

MAX_ENTRIES = 20_000
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
"""1 GiB: the most a zip may unpack to."""

_DRIVE = re.compile(r"^[A-Za-z]:")
_COPY_CHUNK = 1024 * 1024


def _check_name(name: str) -> PurePosixPath:
    bad = (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or _DRIVE.match(name) is not None
    )
    path = PurePosixPath(name)
    if bad or ".." in path.parts:
        raise InputError(
            f"zip entry {name!r} is refused: entries must be relative paths inside the zip "
            "(no '/', drive letter, backslash or '..')"
        )
    return path


def _check_type(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise InputError(f"zip entry {info.filename!r} is a symbolic link; links are refused")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InputError(f"zip entry {info.filename!r} is not a regular file; refused")
    if info.flag_bits & 0x1:
        raise InputError(f"zip entry {info.filename!r} is encrypted; upload a plain zip")


class _TooBig(Exception):
    pass


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> None:
    """Write one entry, counting the bytes really read; over ``budget`` is :class:`_TooBig`."""
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with zf.open(info) as src, target.open("xb") as out:
        while chunk := src.read(_COPY_CHUNK):
            n += len(chunk)
            if n > budget:
                raise _TooBig
            out.write(chunk)


def extract_zip(
    source: IO[bytes] | Path,
    dest: Path,
    *,
    max_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_entries: int = MAX_ENTRIES,
) -> int:
    """Unpack the zip ``source`` into the existing folder ``dest``; return bytes written."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"the upload is not a readable zip file ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise InputError(f"the zip has {len(infos):,} entries; the limit is {max_entries:,}")
        declared = 0
        for info in infos:
            _check_name(info.filename)
            _check_type(info)
            declared += info.file_size
        if declared > max_bytes:
            raise InputError(
                f"the zip unpacks to {declared:,} bytes; the limit is {max_bytes:,} bytes"
            )
        root = dest.resolve()
        written = 0
        for info in infos:
            target = (root / _check_name(info.filename)).resolve()
            if not target.is_relative_to(root):  # pragma: no cover - names are checked above
                raise InputError(f"zip entry {info.filename!r} would land outside the folder")
            try:
                _unpack(zf, info, target, max_bytes - written)
            except _TooBig:
                raise InputError(
                    f"the zip unpacks to more than {max_bytes:,} bytes (its headers "
                    "understate the sizes); refused"
                ) from None
            except FileExistsError:
                raise InputError(f"zip entry {info.filename!r} appears twice") from None
            except OSError as e:
                raise InputError(
                    f"zip entry {info.filename!r} cannot be unpacked ({e.strerror or e})"
                ) from None
            except (zipfile.BadZipFile, EOFError, NotImplementedError, zipfile.LargeZipFile) as e:
                raise InputError(f"zip entry {info.filename!r} cannot be read ({e})") from None
            written += target.stat().st_size if target.is_file() else 0
        return written


def _legacy_folder(top: Path) -> Path:
    """The folder to migrate: the zip's root, or its one top-level folder (``logs/``
    itself, or a folder that holds ``logs/``) when the root holds nothing else."""
    entries = [p for p in top.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "logs":
        return entries[0]
    return top


def migrate_zip(
    migrator: Migrator,
    upload: IO[bytes],
    *,
    filename: str | None,
    dry_run: bool = True,
    skip_bad_lines: bool = False,
    actor: str = "api",
    max_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> MigrationReport:
    """Unpack an uploaded zip of ``logs/`` into a temporary folder, migrate it, remove it."""
    tmp = Path(tempfile.mkdtemp(prefix="mltrainer-migrate-"))
    try:
        extract_zip(upload, tmp, max_bytes=max_bytes)
        return migrator.run(
            _legacy_folder(tmp),
            dry_run=dry_run,
            skip_bad_lines=skip_bad_lines,
            actor=actor,
            source=f"upload {filename or 'logs.zip'}",
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
