"""Atomic replacement: the target holds the old bytes or the new bytes, and no temp file stays."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from servers.common.atomic import TEMP_PREFIX, is_temp_name, write_atomic, write_temp_beside


def test_write_atomic_creates_parents_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    write_atomic(target, b"one")
    assert target.read_bytes() == b"one"
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_write_atomic_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    write_atomic(target, b"#!/bin/sh\n", mode=0o755)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_failed_rename_leaves_target_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(OSError):
        write_atomic(target, b"data")  # cannot rename a file over a non-empty directory
    assert (target / "keep").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]


def test_temp_files_are_recognizable(tmp_path: Path) -> None:
    tmp = write_temp_beside(tmp_path / "x.txt", b"staged")
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(TEMP_PREFIX)
    assert is_temp_name(tmp.name)
    assert tmp.read_bytes() == b"staged"
    assert not is_temp_name("x.txt")
    assert not is_temp_name(".toolwire-notes.md")
