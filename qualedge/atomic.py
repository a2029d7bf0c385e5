"""Atomic file writes: write a temporary file in the destination folder, fsync, then rename.

A reader (or a resumed run) therefore sees either the old file or the complete new one, never a
half-written file. The temporary name starts with a dot and ends in ``.partial`` so that folder
scans skip it; it is removed when the write fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from qualedge.errors import OutputError


def check_output_dir(path: str | Path, *, what: str = "output") -> Path:
    """Return ``path``'s parent folder after checking that it exists and is writable."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(
            f"{what} {path}: folder {parent} does not exist. Create it first (mkdir -p {parent}) or choose another path."
        )
    if not parent.is_dir():
        raise OutputError(f"{what} {path}: {parent} is not a folder. Choose an output path inside a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{what} {path}: folder {parent} is not writable by this user. Fix its permissions or choose another folder."
        )
    return parent


_UMASK = os.umask(0o022)  # read once at import (os.umask is the only portable way to read it); restored below
os.umask(_UMASK)


def _mode_for(path: Path) -> int:
    """An overwrite keeps the file's mode; a new file gets 0666 less the umask."""
    return path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~_UMASK


def _mkstemp(path: Path, parent: Path, what: str) -> tuple[int, str]:
    """A temporary file next to ``path`` with the permissions a plain ``open`` would give it (mkstemp's are 0600)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".partial")
        try:
            os.fchmod(fd, _mode_for(path))
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        return fd, tmp
    except OSError as exc:
        raise OutputError(
            f"{what} {path}: cannot create a file in {parent} ({exc.strerror}). "
            "Fix the folder's permissions or free space, or choose another folder."
        ) from exc


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, what: str = "output") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it is fsynced and renamed onto ``path``."""
    path = Path(path)
    parent = check_output_dir(path, what=what)
    fd, tmp = _mkstemp(path, parent, what)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, what: str = "output") -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb", what=what) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, what: str = "output") -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), what=what)


def atomic_write_json(path: str | Path, obj: Any, *, what: str = "output") -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", what=what)


def atomic_save(path: str | Path, writer: Callable[[Path], None], *, what: str = "output") -> Path:
    """Atomically create ``path`` with a ``writer(tmp_path)`` that insists on writing a path itself.

    For libraries such as ``safetensors.torch.save_file`` or ``onnx.save`` that take a file name.
    """
    path = Path(path)
    parent = check_output_dir(path, what=what)
    fd, tmp = _mkstemp(path, parent, what)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, _mode_for(path))  # the writer may have replaced the file (safetensors writes it 0600)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


__all__ = [
    "atomic_open",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
]
