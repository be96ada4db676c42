"""Unified diffs as real tools print them: `git diff` from a temp repository, and `diff -u`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from servers.patch.model import AddFile, PatchError, UpdateFile
from servers.patch.unified import parse_unified
from tests.patch.conftest import PatchRunner

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return done.stdout.decode("utf-8", "surrogateescape")


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


@needs_git
def test_git_diff_round_trip(tmp_path: Path, patcher: PatchRunner) -> None:
    """Make changes in a repository, diff them, and apply the diff to a copy of the original."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    start = {
        "f.txt": b"a\nb\nc\nd\ne\n",
        "crlf.txt": b"x\r\ny\r\nz\r\n",
        "nonl.txt": b"keep\nno newline",
        "gone.txt": b"bye\n",
        "old name.txt": b"move me\n" * 5,
        "t\u00e9st.txt": b"accent\n",
        "sub/deep.py": b"def f():\n    return 1\n",
    }
    for name, data in start.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
        (repo / name).chmod(0o644)
        patcher.write(name, data).chmod(0o644)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")

    (repo / "f.txt").write_bytes(b"a\nB\nc\nd\ne\nf\n")
    (repo / "crlf.txt").write_bytes(b"x\r\nY\r\nz\r\n")
    (repo / "nonl.txt").write_bytes(b"keep\nstill no newline")
    (repo / "gone.txt").unlink()
    (repo / "old name.txt").rename(repo / "new name.txt")
    (repo / "new name.txt").write_bytes(b"move me\n" * 4 + b"moved\n")
    (repo / "t\u00e9st.txt").write_bytes(b"accent changed\n")
    (repo / "sub/deep.py").write_bytes(b"def f():\n    return 2\n")
    (repo / "sub/deep.py").chmod(0o755)
    (repo / "added.txt").write_bytes(b"brand\nnew\n")
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached", "-M")
    assert "rename from old name.txt" in diff and '"t\\303\\251st.txt"' in diff.replace("a/", "")

    result = patcher(diff)
    assert result.format == "unified"
    assert files(patcher.root) == files(repo)
    statuses = {f.path: f.status for f in result.files}
    assert statuses["new name.txt"] == "R" and statuses["gone.txt"] == "D"
    assert statuses["added.txt"] == "A" and statuses["sub/deep.py"] == "M"


@needs_git
def test_git_diff_with_offset_still_applies(tmp_path: Path, patcher: PatchRunner) -> None:
    """A diff made against an older version applies where its context now is."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    body = [f"line {n}\n" for n in range(30)]
    (repo / "f.txt").write_text("".join(body))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    (repo / "f.txt").write_text("".join(body).replace("line 20\n", "LINE 20\n"))
    diff = git(repo, "diff")
    patcher.write("f.txt", "".join(["header\n"] * 5 + body))
    patcher(diff)
    assert patcher.read("f.txt").decode().splitlines()[25] == "LINE 20"


@needs_git
def test_pure_rename_and_mode_change(tmp_path: Path, patcher: PatchRunner) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.sh").write_text("echo hi\n")
    (repo / "a.sh").chmod(0o644)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    git(repo, "mv", "a.sh", "b.sh")
    (repo / "b.sh").chmod(0o755)
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached", "-M")
    patcher.write("a.sh", "echo hi\n").chmod(0o644)
    result = patcher(diff)
    assert files(patcher.root) == {"b.sh": (b"echo hi\n", 0o755)}
    assert [(f.status, f.old_path, f.path) for f in result.files] == [("R", "a.sh", "b.sh")]


def test_diff_u_between_two_trees(tmp_path: Path, patcher: PatchRunner) -> None:
    """`diff -ruN old new` names both trees; the file on disk decides which name is meant."""
    if shutil.which("diff") is None:
        pytest.skip("diff is not installed")
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "src").mkdir(parents=True)
    (new / "src").mkdir(parents=True)
    (old / "src/x.c").write_text("int x = 1;\nint y = 2;\n")
    (new / "src/x.c").write_text("int x = 1;\nint y = 3;\n")
    (new / "src/n.c").write_text("new\n")
    (old / "src/gone.c").write_text("gone\n")
    done = subprocess.run(
        ["diff", "-ruN", "old", "new"], cwd=tmp_path, capture_output=True, text=True
    )
    patcher.write("src/x.c", "int x = 1;\nint y = 2;\n")
    patcher.write("src/gone.c", "gone\n")
    result = patcher(done.stdout)
    assert patcher.snapshot() == {
        "src": None,
        "src/n.c": b"new\n",
        "src/x.c": b"int x = 1;\nint y = 3;\n",
    }
    assert sorted((f.status, f.path) for f in result.files) == [
        ("A", "src/n.c"),
        ("D", "src/gone.c"),
        ("M", "src/x.c"),
    ]


def test_no_newline_markers() -> None:
    diff = (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n keep\n-old\n\\ No newline at end of file\n+new\n"
        "\\ No newline at end of file\n--- /dev/null\n+++ b/g\n@@ -0,0 +1 @@\n+g\n"
        "\\ No newline at end of file\n"
    )
    update, add = parse_unified(diff).ops
    assert isinstance(update, UpdateFile) and update.chunks[0].new_ends_without_newline
    assert isinstance(add, AddFile) and add.ends_without_newline and add.lines == ("g",)


def test_binary_diffs_are_refused() -> None:
    diff = (
        "diff --git a/i.png b/i.png\nindex 1..2 100644\nBinary files a/i.png and b/i.png differ\n"
    )
    with pytest.raises(PatchError, match="binary diffs are not supported"):
        parse_unified(diff)


def test_malformed_diff() -> None:
    with pytest.raises(PatchError, match="cannot parse the unified diff"):
        parse_unified("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-a\n+b\n")
