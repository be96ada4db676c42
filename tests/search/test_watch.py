"""The inotify tree watch: event parsing on hand-built bytes, then real watches on real trees."""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from pathlib import Path

import pytest

from servers.search import watch as watch_module
from servers.search.watch import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_ISDIR,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Event,
    State,
    TreeWatch,
    parse_events,
)
from tests.search.conftest import write

needs_inotify = pytest.mark.skipif(not watch_module.supported(), reason="needs Linux inotify")


def record(wd: int, mask: int, name: bytes = b"", cookie: int = 0, pad_to: int = 16) -> bytes:
    """One ``struct inotify_event`` as the kernel writes it: the name NUL-padded."""
    length = 0 if not name else -(-(len(name) + 1) // pad_to) * pad_to
    return struct.pack("iIII", wd, mask, cookie, length) + name.ljust(length, b"\0")


def test_parse_several_records_with_padding_and_empty_names() -> None:
    data = (
        record(1, IN_CREATE, b"a.py")
        + record(2, IN_ISDIR | IN_CREATE, b"new-directory-with-a-long-name")
        + record(1, IN_Q_OVERFLOW)  # no name at all: len 0
        + record(3, IN_MOVED_TO, b"x", cookie=7, pad_to=4)
    )
    events, rest = parse_events(data)
    assert events == [
        Event(1, IN_CREATE, 0, b"a.py"),
        Event(2, IN_ISDIR | IN_CREATE, 0, b"new-directory-with-a-long-name"),
        Event(1, IN_Q_OVERFLOW, 0, b""),
        Event(3, IN_MOVED_TO, 7, b"x"),
    ]
    assert rest == b""


@pytest.mark.parametrize("cut", [1, 8, 15, 16, 17, 31])
def test_a_truncated_tail_is_left_for_the_next_read(cut: int) -> None:
    first, second = record(1, IN_CREATE, b"a"), record(1, IN_CLOSE_WRITE, b"second.txt")
    data = first + second
    events, rest = parse_events(data[: len(first) + cut])
    assert events == [Event(1, IN_CREATE, 0, b"a")]
    assert rest == second[:cut]
    more, rest = parse_events(rest + data[len(first) + cut :])
    assert more == [Event(1, IN_CLOSE_WRITE, 0, b"second.txt")]
    assert rest == b""


def test_parse_nothing() -> None:
    assert parse_events(b"") == ([], b"")
    assert parse_events(b"\1\2\3") == ([], b"\1\2\3")


def built(root: Path, **kwargs: int) -> TreeWatch:
    watch = TreeWatch(root, **kwargs)
    watch.start()
    assert watch.wait(10)
    return watch


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root / "src" / "app.py", "x = 1\n")
    write(root / ".git" / "info" / "exclude", "")
    write(root / ".git" / "config", "")
    write(root / ".git" / "objects" / "ab" / "cdef", "")  # never entered
    (root / "empty").mkdir()
    (root / "ignored" / "deep").mkdir(parents=True)
    write(root / ".gitignore", "ignored/\n")
    return root


@needs_inotify
def test_build_watches_tree_dirs_and_only_two_git_dirs(tree: Path) -> None:
    watch = built(tree)
    try:
        assert watch.state is State.READY
        # proj, src, empty, ignored, ignored/deep, .git, .git/info
        assert watch.dirs == 7
    finally:
        watch.close()
    assert watch.state is State.CLOSED


@needs_inotify
def test_events_sort_into_soft_hard_broken_and_nothing(tree: Path) -> None:
    watch = built(tree)
    try:
        watch.drain()
        assert watch.version == (0, 0)
        write(tree / "src" / "app.py", "x = 2\n")  # an ordinary edit: nothing
        write(tree / ".git" / "index", "churn")  # git's own files: nothing
        write(tree / ".git" / "objects" / "ab" / "cdef", "churn")
        os.utime(tree / "src" / "app.py")
        watch.drain()
        assert watch.version == (0, 0)

        write(tree / "src" / "new.py", "")  # soft: the path is noted
        tmp = write(tree / "src" / ".tmp-save", "x = 3\n")
        tmp.replace(tree / "src" / "app.py")  # an atomic save: two soft paths
        watch.drain()
        assert watch.generation == 0
        assert watch.touched == [b"src/new.py", b"src/.tmp-save", b"src/.tmp-save", b"src/app.py"]

        write(tree / ".gitignore", "ignored/\n*.log\n")  # hard
        watch.drain()
        assert watch.version == (1, 0)
        write(tree / ".git" / "info" / "exclude", "x\n")
        watch.drain()
        assert watch.version == (2, 0)
        write(tree / ".git" / "config", "[core]\n")
        watch.drain()
        assert watch.version == (3, 0)
        (tree / "src" / "new.py").unlink()
        watch.drain()
        assert watch.touched == [b"src/new.py"]
        assert watch.state is State.READY

        (tree / "empty" / "sub").mkdir()  # broken: "sub" has no watch
        watch.drain()
        assert watch.state is State.BROKEN
    finally:
        watch.close()


@needs_inotify
def test_a_directory_chmod_breaks_the_watch(tree: Path) -> None:
    watch = built(tree)
    try:
        (tree / "src").chmod(0o700)
        watch.drain()
        assert watch.state is State.BROKEN
    finally:
        watch.close()


@needs_inotify
def test_ancestors_are_watched_for_ignore_files_and_markers(tree: Path) -> None:
    watch = built(tree)
    try:
        write(tree.parent / "unrelated.txt", "")
        watch.drain()
        assert watch.version == (0, 0)
        write(tree.parent / ".ignore", "")
        watch.drain()
        assert watch.state is State.BROKEN  # a new ignore file: the next build looks at it
    finally:
        watch.close()
    watch = built(tree)
    try:
        write(tree.parent / ".ignore", "src/\n")  # an edit: hard
        watch.drain()
        assert watch.version == (1, 0)
        (tree.parent / ".jj").mkdir()
        watch.drain()
        assert watch.state is State.BROKEN
    finally:
        watch.close()


@needs_inotify
@pytest.mark.parametrize("where", ["tree", "ancestor", "info"])
@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_ignore_files_editable_elsewhere_make_the_root_unwatchable(
    tree: Path, tmp_path: Path, where: str, link: str
) -> None:
    target = write(tmp_path / "elsewhere", "*.py\n")
    place = {
        "tree": tree / "src" / ".gitignore",
        "ancestor": tree.parent / ".rgignore",
        "info": tree / ".git" / "info" / "exclude",
    }[where]
    place.unlink(missing_ok=True)
    if link == "symlink":
        place.symlink_to(target)
    else:
        os.link(target, place)
    watch = built(tree)
    assert watch.state is State.FAILED
    assert "symlink or has other hard links" in watch.failure


@needs_inotify
def test_too_many_directories_fail_the_build(tree: Path) -> None:
    watch = built(tree, max_dirs=3)
    assert watch.state is State.FAILED
    assert "more than 3 directories" in watch.failure


@needs_inotify
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EMFILE])
def test_inotify_limits_fail_the_build(
    tree: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    real = watch_module.add_watch
    calls = 0

    def add_watch(fd: int, path: bytes, mask: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(code, os.strerror(code))
        return real(fd, path, mask)

    monkeypatch.setattr(watch_module, "add_watch", add_watch)
    watch = built(tree)
    assert watch.state is State.FAILED
    assert os.strerror(code) in watch.failure


def test_no_inotify_fails_the_build(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> int:
        raise OSError(errno.ENOSYS, "inotify is not available on this platform")

    monkeypatch.setattr(watch_module, "inotify_init", unavailable)
    watch = built(tree)
    assert watch.state is State.FAILED
    assert "not available" in watch.failure


@needs_inotify
def test_worktree_git_file_leads_to_the_common_info_exclude(tmp_path: Path) -> None:
    main_git = tmp_path / "main" / ".git"
    write(main_git / "info" / "exclude", "")
    private = main_git / "worktrees" / "wt"
    write(private / "commondir", "../..\n")
    root = tmp_path / "wt"
    write(root / ".git", f"gitdir: {private}\n")
    write(root / "a.txt", "")
    watch = built(root)
    try:
        assert watch.state is State.READY
        write(main_git / "info" / "exclude", "a.txt\n")
        watch.drain()
        assert watch.generation == 1
        write(main_git / "index", "")  # the main repository's churn: nothing
        watch.drain()
        assert watch.version == (1, 0)
    finally:
        watch.close()


@needs_inotify
def test_closing_during_the_build_closes_the_descriptor(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real = watch_module.inotify_init

    def init() -> int:
        fd = real()
        opened.append(fd)
        return fd

    monkeypatch.setattr(watch_module, "inotify_init", init)
    watch = TreeWatch(tree)
    watch.close()  # before the thread even runs: it must close what it opens
    watch.start()
    assert watch.wait(10)
    assert watch.state is State.CLOSED
    assert len(opened) == 1
    with contextlib.suppress(OSError):  # closed (or its number already reused by another file)
        assert "inotify" not in os.readlink(f"/proc/self/fd/{opened[0]}")
