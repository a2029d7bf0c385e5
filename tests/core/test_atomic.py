"""Atomic writes: all or nothing, no partial files left, the permissions a plain open would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qualedge.atomic import atomic_open, atomic_save, atomic_write_json, atomic_write_text
from qualedge.errors import OutputError


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    p = atomic_write_text(tmp_path / "a.txt", "hello")
    assert p.read_text() == "hello"
    assert _mode(p) == 0o666 & ~umask


def test_atomic_save_mode_survives_a_writer_that_replaces_the_file(tmp_path: Path) -> None:
    def writer(tmp: Path) -> None:  # as safetensors does: a fresh 0600 file at the temporary path
        tmp.unlink()
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b"data")
        os.close(fd)

    umask = os.umask(0o022)
    os.umask(umask)
    p = atomic_save(tmp_path / "w.safetensors", writer)
    assert p.read_bytes() == b"data" and _mode(p) == 0o666 & ~umask


def test_overwrite_keeps_the_existing_mode(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text("{}")
    p.chmod(0o640)
    atomic_write_json(p, {"x": 1})
    assert _mode(p) == 0o640 and '"x": 1' in p.read_text()


def test_failed_write_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    p = tmp_path / "out.bin"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(p, "wb") as f:
        f.write(b"half")
        raise RuntimeError("boom")

    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise ValueError("writer failed")

    with pytest.raises(ValueError, match="writer failed"):
        atomic_save(p, writer)
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.bin"]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not a folder|does not exist"):
        atomic_write_text(tmp_path / "nope" / "a.txt", "x")
