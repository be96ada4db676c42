"""Whole patches against real files: atomicity, moves, deletes, modes, symlinks, dry runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.patch import apply as apply_module
from servers.patch.apply import Write, commit
from servers.patch.engine import render_result, run_patch
from servers.patch.model import PatchError
from servers.patch.parser import parse_patch
from servers.patch.plan import plan_patch, read_bytes
from tests.patch.conftest import PatchRunner, codex


def test_third_file_failing_leaves_the_first_two_untouched(patcher: PatchRunner) -> None:
    patcher.write("one.txt", "1\n")
    patcher.write("two.txt", "2\n")
    patcher.write("three.txt", "3\n")
    before = patcher.snapshot()
    patch = codex(
        "*** Update File: one.txt", "-1", "+one",
        "*** Add File: dir/new.txt", "+new",
        "*** Delete File: two.txt",
        "*** Update File: three.txt", "-not there", "+x",
    )  # fmt: skip
    with pytest.raises(PatchError) as caught:
        patcher(patch)
    assert "three.txt, hunk 1 of 1" in str(caught.value)
    assert str(caught.value).endswith("No file was changed.")
    assert patcher.snapshot() == before


def test_failure_while_writing_rolls_everything_back(
    patcher: PatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OS error in the middle of the swap (after some files were replaced) is undone."""
    for name in ("a.txt", "b.txt", "c.txt"):
        patcher.write(name, f"{name}\n")
    before = patcher.snapshot()
    real_replace = os.replace
    calls = 0

    def flaky_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # journal prepared, journal staged, a.txt swapped; b.txt fails
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", flaky_replace)
    patch = codex(
        "*** Update File: a.txt", "-a.txt", "+A",
        "*** Update File: b.txt", "-b.txt", "+B",
        "*** Delete File: c.txt",
        "*** Add File: new/deeper/d.txt", "+D",
        "*** Update File: a.txt", "-A", "+AA",
    )  # fmt: skip
    with pytest.raises(PatchError, match="No space left on device"):
        patcher(patch)
    monkeypatch.undo()
    assert patcher.snapshot() == before
    assert not any(patcher.journal.iterdir())


def test_file_changed_since_planning_is_not_overwritten(patcher: PatchRunner) -> None:
    target = patcher.write("f.txt", "old\n")
    stamp = apply_module.FileStamp.of(target.stat())
    target.write_text("edited by someone else\n")
    os.utime(target, ns=(0, 0))
    with pytest.raises(PatchError, match="changed on disk"):
        commit([Write(target, b"new\n", stamp)], [], journal_dir=patcher.journal)
    assert target.read_text() == "edited by someone else\n"


def test_move_onto_existing_file_and_update_twice(patcher: PatchRunner) -> None:
    patcher.write("src/old.py", "a\nb\n")
    patcher.write("dst/new.py", "existing\n")
    patch = codex(
        "*** Update File: src/old.py", "*** Move to: dst/new.py", "@@", "-a", "+A",
        "*** Update File: dst/new.py", "@@", " A", "-b", "+B",
    )  # fmt: skip
    result = patcher(patch)
    assert patcher.snapshot() == {"dst": None, "dst/new.py": b"A\nB\n", "src": None}
    assert [(f.status, f.old_path, f.path) for f in result.files] == [
        ("R", "src/old.py", "dst/new.py"),
        ("M", None, "dst/new.py"),
    ]


def test_move_keeps_mode_and_line_endings(patcher: PatchRunner) -> None:
    patcher.write("run.sh", "#!/bin/sh\r\necho a\r\n").chmod(0o751)
    patcher(codex("*** Update File: run.sh", "*** Move to: bin/run.sh", "@@", "-echo a", "+echo b"))
    moved = patcher.root / "bin/run.sh"
    assert moved.read_bytes() == b"#!/bin/sh\r\necho b\r\n"
    assert moved.stat().st_mode & 0o777 == 0o751


def test_update_preserves_mode_and_new_files_follow_umask(patcher: PatchRunner) -> None:
    patcher.write("x.sh", "a\n").chmod(0o700)
    patcher(codex("*** Update File: x.sh", "-a", "+b", "*** Add File: y.txt", "+y"))
    assert (patcher.root / "x.sh").stat().st_mode & 0o777 == 0o700
    umask = os.umask(0)
    os.umask(umask)
    assert (patcher.root / "y.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_delete_of_missing_file_and_of_directory(patcher: PatchRunner) -> None:
    patcher.write("d/f.txt", "x\n")
    with pytest.raises(PatchError, match=r"cannot delete missing\.txt: there is no such file"):
        patcher(codex("*** Delete File: missing.txt"))
    with pytest.raises(PatchError, match="cannot delete d: it is a directory"):
        patcher(codex("*** Delete File: d"))
    with pytest.raises(PatchError, match=r"cannot delete \.: it is a directory"):
        patcher(codex(f"*** Delete File: {patcher.root}"))
    assert patcher.read("d/f.txt") == b"x\n"


def test_deleting_a_symlink_removes_the_link_not_its_target(patcher: PatchRunner) -> None:
    patcher.write("real.txt", "data\n")
    (patcher.root / "link.txt").symlink_to("real.txt")
    patcher(codex("*** Delete File: link.txt"))
    assert not (patcher.root / "link.txt").is_symlink()
    assert patcher.read("real.txt") == b"data\n"


def test_update_through_a_symlink_edits_the_target(patcher: PatchRunner) -> None:
    patcher.write("real.txt", "data\n")
    (patcher.root / "link.txt").symlink_to("real.txt")
    patcher(codex("*** Update File: link.txt", "-data", "+new"))
    assert (patcher.root / "link.txt").is_symlink()
    assert patcher.read("real.txt") == b"new\n"


def test_paths_outside_the_workspace_refuse_the_whole_patch(
    patcher: PatchRunner, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (patcher.root / "escape").symlink_to(tmp_path)
    for path in ["../outside.txt", str(outside), "escape/outside.txt"]:
        with pytest.raises(PatchError, match=r"refused as a whole.*outside the workspace"):
            patcher(codex("*** Add File: inside.txt", "+x", f"*** Delete File: {path}"))
    assert outside.read_text() == "keep\n"
    assert not (patcher.root / "inside.txt").exists()


def test_dry_run_writes_nothing(patcher: PatchRunner) -> None:
    patcher.write("f.txt", "a\n")
    before = patcher.snapshot()
    result = patcher(
        codex("*** Update File: f.txt", "-a", "+b", "*** Add File: g", "+g"), dry_run=True
    )
    assert patcher.snapshot() == before
    assert not result.applied and result.dry_run
    assert [(f.status, f.path, f.added, f.removed) for f in result.files] == [
        ("M", "f.txt", 1, 1),
        ("A", "g", 1, 0),
    ]
    assert "-a\n+b" in result.diff
    assert render_result(result).startswith("Would change 2 files (+2 -1); dry run")


def test_result_lists_files_and_a_capped_diff(patcher: PatchRunner) -> None:
    patcher.write("big.txt", "".join(f"{n}\n" for n in range(3000)))
    body = ["*** Update File: big.txt", "@@"]
    body += [f"-{n}" for n in range(3000)] + [f"+line {n}" for n in range(3000)]
    result = patcher(codex(*body))
    assert result.files[0].added == 3000 and result.diff_truncated
    assert "omitted" in result.diff and len(result.diff) < 10_000
    text = render_result(result)
    assert text.splitlines()[:2] == ["Changed 1 file (+3000 -3000)", "M big.txt (+3000 -3000)"]


def test_loose_matches_are_reported(patcher: PatchRunner) -> None:
    patcher.write("f.py", "x = 1   \n")
    result = patcher(codex("*** Update File: f.py", "-x = 1", "+x = 2"))
    assert patcher.read("f.py") == b"x = 2\n"
    assert result.notes == ["f.py, hunk 1 of 1: matched ignoring trailing whitespace at line 1"]


def test_add_then_delete_in_one_patch_is_a_no_op_on_disk(patcher: PatchRunner) -> None:
    patcher(codex("*** Add File: tmp.txt", "+x", "*** Delete File: tmp.txt"))
    assert patcher.snapshot() == {}


def test_cannot_create_below_a_file(patcher: PatchRunner) -> None:
    patcher.write("afile", "x\n")
    with pytest.raises(PatchError, match=r"refused as a whole: cannot resolve .*Not a directory"):
        patcher(codex("*** Add File: afile/sub/new.txt", "+x"))


def _die(*_: object) -> None:
    raise SystemExit(1)  # stands in for the process dying: nothing after it runs


def test_crash_inside_the_swap_is_completed_by_the_next_call(
    patcher: PatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the commit point a change is decided: the next call finishes it."""
    patcher.write("a.txt", "a\n")
    patcher.write("b.txt", "b\n")
    real_replace = os.replace
    calls = 0

    def replace_then_die(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # journal prepared, journal staged, a.txt swapped; b.txt: dead
            raise SystemExit(1)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_then_die)
    monkeypatch.setattr(apply_module, "_restore", _die)
    patch = codex("*** Update File: a.txt", "-a", "+A", "*** Update File: b.txt", "-b", "+B")
    with pytest.raises(SystemExit):
        patcher(patch)
    monkeypatch.undo()
    assert (patcher.read("a.txt"), patcher.read("b.txt")) == (b"A\n", b"b\n")
    with pytest.raises(PatchError):
        patcher(codex("*** Delete File: nothing-here"))  # any call recovers first
    assert patcher.snapshot() == {"a.txt": b"A\n", "b.txt": b"B\n"}
    assert not any(patcher.journal.iterdir())


def test_crash_before_the_commit_point_is_discarded_by_the_next_call(
    patcher: PatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    patcher.write("a.txt", "a\n")
    before = patcher.snapshot()
    real_stage = apply_module._stage

    def stage_then_die(*args: object) -> None:
        real_stage(*args)  # type: ignore[arg-type]
        raise SystemExit(1)

    monkeypatch.setattr(apply_module, "_stage", stage_then_die)
    monkeypatch.setattr(apply_module, "_discard", _die)
    with pytest.raises(SystemExit):
        patcher(codex("*** Update File: a.txt", "-a", "+A", "*** Add File: new/b.txt", "+b"))
    monkeypatch.undo()
    assert any(p.name.startswith(".toolwire-") for p in patcher.root.rglob("*"))
    # A server for another workspace leaves this journal for its own server to finish.
    assert apply_module.recover(patcher.journal, within=lambda path: False) == []
    assert any(patcher.journal.glob("*.json"))
    patcher(codex("*** Add File: c.txt", "+c"))
    assert patcher.snapshot() == {**before, "c.txt": b"c\n"}
    assert not any(patcher.journal.iterdir())


def test_binary_and_oversized_files_are_refused(patcher: PatchRunner) -> None:
    patcher.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(PatchError, match=r"logo\.png: it is a binary file"):
        patcher(codex("*** Update File: logo.png", "-x", "+y"))
    patcher.write("big.txt", "x\n" * 100)
    with pytest.raises(PatchError, match=r"big\.txt is 200 bytes; .* up to 50 bytes"):
        run_patch(
            codex("*** Update File: big.txt", "-x", "+y"),
            patcher.workspace,
            journal_dir=patcher.journal,
            max_file_bytes=50,
        )


def test_only_missing_directories_are_planned_for_creation(patcher: PatchRunner) -> None:
    patcher.write("old/keep.txt", "a\n")
    patcher.write("old/moved.txt", "m\n")
    patch = codex(
        "*** Update File: old/keep.txt", "-a", "+b",
        "*** Update File: old/moved.txt", "*** Move to: new/deeper/moved.txt", "-m", "+M",
        "*** Add File: new/deeper/added.txt", "+x",
        "*** Add File: old/added.txt", "+y",
    )  # fmt: skip
    plan = plan_patch(parse_patch(patch), patcher.workspace)
    assert plan.new_dirs == [patcher.root / "new", patcher.root / "new" / "deeper"]
    patcher(patch)
    assert patcher.read("new/deeper/moved.txt") == b"M\n"
    assert patcher.read("new/deeper/added.txt") == b"x\n"
    assert patcher.read("old/keep.txt") == b"b\n"


@pytest.mark.parametrize("size", [0, 1, 5, 100_000])
def test_read_bytes_reads_to_the_end_whatever_size_it_was_told(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * 400  # 102,400 bytes: larger than some hints, smaller than none
    path = tmp_path / "f"
    path.write_bytes(data)
    assert read_bytes(path, size) == data  # grown (or shrunk) since the lstat that gave size
    path.write_bytes(b"")
    assert read_bytes(path, size) == b""
