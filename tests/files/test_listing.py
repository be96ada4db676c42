"""list_tree: sorted, depth-limited, .gitignore-aware, and honest about what it left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.files.listing import Entry, list_tree, render_listing


def make(root: Path, *paths: str) -> None:
    """Create files (and directories for paths ending in '/')."""
    for p in paths:
        target = root / p
        if p.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"{p}\n")


def paths_of(root: Path, directory: Path | None = None, depth: int = 10) -> list[str]:
    return [e.path for e in list_tree(directory or root, root, depth).entries]


def test_sorted_depth_first_with_directories_marked(tmp_path: Path) -> None:
    make(tmp_path, "b.txt", "a/", "a/z.py", "a/m/", "a/m/deep.txt", "c/")
    listing = list_tree(tmp_path, tmp_path, 5)
    assert [(e.path, e.is_dir, e.depth) for e in listing.entries] == [
        ("a", True, 1),
        ("a/m", True, 2),
        ("a/m/deep.txt", False, 3),
        ("a/z.py", False, 2),
        ("b.txt", False, 1),
        ("c", True, 1),
    ]
    assert listing.ignored == 0 and listing.beyond_depth == 0


def test_depth_limit_counts_what_is_beyond(tmp_path: Path) -> None:
    make(tmp_path, "top.txt", "a/x.txt", "a/b/y.txt", "a/b/c/z.txt", "a/b/c/w.txt")
    one = list_tree(tmp_path, tmp_path, 1)
    assert [e.path for e in one.entries] == ["a", "top.txt"]
    assert one.beyond_depth == 2  # a/x.txt and a/b
    two = list_tree(tmp_path, tmp_path, 2)
    assert [e.path for e in two.entries] == ["a", "a/b", "a/x.txt", "top.txt"]
    assert two.beyond_depth == 2  # a/b/y.txt and a/b/c


def test_gitignore_hides_and_counts(tmp_path: Path) -> None:
    make(
        tmp_path,
        ".gitignore",
        "app.py",
        "debug.log",
        "build/",
        "build/out.o",
        "src/main.py",
        "src/cache.log",
    )
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    listing = list_tree(tmp_path, tmp_path, 5)
    assert [e.path for e in listing.entries] == [".gitignore", "app.py", "src", "src/main.py"]
    assert listing.ignored == 3  # debug.log, build/, src/cache.log


def test_gitignore_negation(tmp_path: Path) -> None:
    make(tmp_path, ".gitignore", "a.log", "keep.log", "logs/x.log", "logs/important.log")
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n!important.log\n")
    assert paths_of(tmp_path) == [".gitignore", "keep.log", "logs", "logs/important.log"]


def test_directory_only_pattern_does_not_hide_files(tmp_path: Path) -> None:
    make(tmp_path, ".gitignore", "out/", "out/a", "sub/out")
    (tmp_path / ".gitignore").write_text("out/\n")
    assert paths_of(tmp_path) == [".gitignore", "sub", "sub/out"]


def test_anchored_pattern(tmp_path: Path) -> None:
    make(tmp_path, ".gitignore", "dist/a", "pkg/dist/b")
    (tmp_path / ".gitignore").write_text("/dist\n")
    assert paths_of(tmp_path) == [".gitignore", "pkg", "pkg/dist", "pkg/dist/b"]


def test_nested_gitignore(tmp_path: Path) -> None:
    make(
        tmp_path,
        ".gitignore",
        "a.log",
        "sub/.gitignore",
        "sub/a.log",
        "sub/secret.txt",
        "sub/b.txt",
        "other/secret.txt",
    )
    (tmp_path / ".gitignore").write_text("*.log\n")
    # The nested file adds a rule and re-includes what its parent ignored, for its subtree only.
    (tmp_path / "sub" / ".gitignore").write_text("secret.txt\n!a.log\n")
    assert paths_of(tmp_path) == [
        ".gitignore",
        "other",
        "other/secret.txt",
        "sub",
        "sub/.gitignore",
        "sub/a.log",
        "sub/b.txt",
    ]


def test_gitignore_above_the_listed_directory_applies(tmp_path: Path) -> None:
    make(tmp_path, ".gitignore", "pkg/mod.py", "pkg/mod.pyc", "pkg/inner/x.pyc")
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    listing = list_tree(tmp_path / "pkg", tmp_path, 5)
    assert [e.path for e in listing.entries] == ["inner", "mod.py"]
    assert listing.ignored == 2


def test_vcs_directories_are_skipped_and_counted(tmp_path: Path) -> None:
    make(tmp_path, ".git/HEAD", ".git/objects/ab", ".hg/store", "file.txt", "sub/.git/config")
    listing = list_tree(tmp_path, tmp_path, 5)
    assert [e.path for e in listing.entries] == ["file.txt", "sub"]
    assert listing.ignored == 3


def test_a_file_named_git_is_shown(tmp_path: Path) -> None:
    make(tmp_path, ".git")  # a worktree or submodule has a .git *file*
    assert paths_of(tmp_path) == [".git"]


def test_beyond_depth_does_not_count_ignored_entries(tmp_path: Path) -> None:
    """Raising depth would not show ignored entries, so they are not "deeper entries"."""
    make(tmp_path, ".gitignore", "pkg/a.py", "pkg/a.pyc", "pkg/__pycache__/a.cpython.pyc")
    make(tmp_path, "pkg/.git/HEAD")
    (tmp_path / ".gitignore").write_text("*.pyc\n__pycache__/\n")
    shallow = list_tree(tmp_path, tmp_path, 1)
    deep = list_tree(tmp_path, tmp_path, 2)
    shown_deeper = len(deep.entries) - len(shallow.entries)
    assert shallow.beyond_depth == shown_deeper == 1


def test_symlinks_are_marked_and_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, "secret.txt")
    root = tmp_path / "root"
    make(root, "real/file.txt")
    (root / "to-outside").symlink_to(outside)
    (root / "to-file").symlink_to(root / "real" / "file.txt")
    (root / "loop").symlink_to("loop")
    entries = {e.path: e for e in list_tree(root, root, 5).entries}
    assert set(entries) == {"loop", "real", "real/file.txt", "to-file", "to-outside"}
    assert entries["to-outside"].is_symlink and not entries["to-outside"].is_dir
    assert entries["loop"].is_symlink


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_is_reported(tmp_path: Path) -> None:
    make(tmp_path, "locked/x.txt")
    (tmp_path / "locked").chmod(0)
    try:
        listing = list_tree(tmp_path, tmp_path, 5)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert listing.unreadable and listing.unreadable[0].startswith("locked:")


def test_render_listing() -> None:
    entries = [
        Entry("a", True, 1),
        Entry("a/b.py", False, 2),
        Entry("link", False, 1, is_symlink=True),
    ]
    text = render_listing(entries, "/w/ (3 entries)", ["2 entries hidden by .gitignore or .git"])
    assert text == "/w/ (3 entries)\na/\n  b.py\nlink@\n[2 entries hidden by .gitignore or .git]"
