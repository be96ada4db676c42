"""The workspace: roots, path resolution, and every way a path might try to leave the roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.common.workspace import MAX_NAME_BYTES, MAX_PATH_BYTES, Workspace, WorkspaceError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    (r / "src").mkdir()
    (r / "src" / "main.py").write_text("print('hi')\n")
    return r.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    o = tmp_path / "outside"
    o.mkdir()
    (o / "secret.txt").write_text("top secret\n")
    return o.resolve()


@pytest.fixture
def ws(root: Path) -> Workspace:
    return Workspace.from_paths([root])


def refused(ws: Workspace, path: str | os.PathLike[str], **kwargs: bool) -> str:
    with pytest.raises(WorkspaceError) as info:
        ws.resolve(path, **kwargs)
    return str(info.value)


# --- roots ------------------------------------------------------------------------------------


def test_default_root_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace.from_paths().roots == (tmp_path.resolve(),)


def test_roots_are_real_absolute_and_deduplicated(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alias").symlink_to(root)
    monkeypatch.chdir(tmp_path)
    ws = Workspace.from_paths(["root", tmp_path / "alias", root])
    assert ws.roots == (root,)
    assert ws.root == root


def test_root_with_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "proj").mkdir()
    assert Workspace.from_paths(["~/proj"]).root == (tmp_path / "proj").resolve()


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_root_must_be_a_directory(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "file":
        target.write_text("")
    with pytest.raises(WorkspaceError, match="is not a directory"):
        Workspace.from_paths([target])


def test_multiple_roots(root: Path, outside: Path) -> None:
    ws = Workspace.from_paths([root, outside])
    assert ws.roots == (root, outside)
    # Relative paths start at the first root; the second root is reachable by absolute path.
    assert ws.resolve("src/main.py") == root / "src" / "main.py"
    assert ws.resolve(outside / "secret.txt") == outside / "secret.txt"
    assert ws.resolve("secret.txt") == root / "secret.txt"  # not found, but where it would be
    assert outside.name in ws.describe_roots() and root.name in ws.describe_roots()
    # Display: relative under the first root, absolute under the others.
    assert ws.display(root / "src" / "main.py") == "src/main.py"
    assert ws.display(outside / "secret.txt") == str(outside / "secret.txt")
    assert ws.display(root) == "."
    assert ws.display(outside) == "."


# --- ordinary resolution ----------------------------------------------------------------------


def test_relative_and_absolute_paths_inside(ws: Workspace, root: Path) -> None:
    assert ws.resolve("src/main.py") == root / "src" / "main.py"
    assert ws.resolve(root / "src" / "main.py") == root / "src" / "main.py"
    assert ws.resolve(".") == root
    assert ws.resolve("src/../src/./main.py") == root / "src" / "main.py"
    assert ws.resolve(str(root)) == root


def test_must_exist(ws: Workspace, root: Path) -> None:
    assert ws.resolve("new/file.txt") == root / "new" / "file.txt"
    message = refused(ws, "new/file.txt", must_exist=True)
    assert "'new/file.txt' does not exist" in message


@pytest.mark.parametrize("path", ["", "   "])
def test_empty_path(ws: Workspace, path: str) -> None:
    assert "path is empty" in refused(ws, path)


def test_tilde_expands_to_home(ws: Workspace, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(root))
    assert ws.resolve("~/src/main.py") == root / "src" / "main.py"
    monkeypatch.setenv("HOME", "/")
    message = refused(ws, "~/etc/passwd")
    assert "outside the workspace" in message


def test_symlink_inside_to_inside_is_followed(ws: Workspace, root: Path) -> None:
    (root / "link.py").symlink_to(root / "src" / "main.py")
    (root / "srclink").symlink_to("src")
    assert ws.resolve("link.py") == root / "src" / "main.py"
    assert ws.resolve("srclink/main.py") == root / "src" / "main.py"
    assert ws.resolve("srclink/new.py") == root / "src" / "new.py"


def test_unicode_names(ws: Workspace, root: Path) -> None:
    for name in ["naïve café.txt", "日本語.md", "emoji-🚀.txt", "Ω≈ç√.py"]:
        (root / name).write_text("x")
        assert ws.resolve(name, must_exist=True) == root / name
        assert ws.display(root / name) == name


# --- adversarial paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "../outside/secret.txt",
        "../../../../../../../../etc/passwd",
        "src/../../outside/secret.txt",
        "src/../../../..",
        "./../root/../outside",
    ],
)
def test_dotdot_chains_are_refused(ws: Workspace, root: Path, path: str) -> None:
    message = refused(ws, path)
    assert "outside the workspace" in message
    assert f"allowed roots: {root}" in message


@pytest.mark.parametrize("path", ["/etc/passwd", "/", "/tmp", "/root/.ssh/id_rsa"])
def test_absolute_paths_outside_are_refused(ws: Workspace, root: Path, path: str) -> None:
    message = refused(ws, path)
    assert "outside the workspace" in message and str(root) in message


def test_dotdot_that_comes_back_inside_is_fine(ws: Workspace, root: Path) -> None:
    assert ws.resolve(f"../{root.name}/src/main.py") == root / "src" / "main.py"


def test_prefix_sibling_is_not_inside(ws: Workspace, root: Path) -> None:
    """``/x/root-evil`` starts with the string ``/x/root`` but is not inside it."""
    sibling = root.parent / (root.name + "-evil")
    sibling.mkdir()
    assert "outside the workspace" in refused(ws, sibling)


def test_symlink_to_etc_is_refused(ws: Workspace, root: Path) -> None:
    (root / "etc").symlink_to("/etc")
    message = refused(ws, "etc/passwd")
    assert "outside the workspace" in message
    assert "resolves to /etc/passwd" in message
    assert "outside the workspace" in refused(ws, "etc")
    # Creating a file under it is refused too (checked through the nearest existing parent).
    assert "outside the workspace" in refused(ws, "etc/new-file")
    assert "outside the workspace" in refused(ws, "etc/new-dir/deeper/file")


def test_symlinked_file_pointing_outside(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "innocent.txt").symlink_to(outside / "secret.txt")
    assert str(outside / "secret.txt") in refused(ws, "innocent.txt")


def test_symlinked_parent_directory_escaping(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "src" / "vendor").symlink_to(outside)
    assert "outside the workspace" in refused(ws, "src/vendor/secret.txt")
    assert "outside the workspace" in refused(ws, "src/vendor/not-yet.txt")
    # A relative link climbing out is the same escape.
    (root / "up").symlink_to("../outside")
    assert "outside the workspace" in refused(ws, "up/secret.txt")


def test_symlink_loops_are_refused(ws: Workspace, root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / "self").symlink_to("self")
    for path in ["a", "b", "self", "a/x", "self/new.txt"]:
        message = refused(ws, path)
        assert "cannot resolve" in message, (path, message)


def test_dangling_symlink_pointing_outside_is_refused(ws: Workspace, root: Path) -> None:
    (root / "dangling").symlink_to("/nonexistent-toolwire-target/file")
    (root / "dangling-rel").symlink_to("../../no/such/place")
    assert "outside the workspace" in refused(ws, "dangling")
    assert "outside the workspace" in refused(ws, "dangling-rel")


def test_dangling_symlink_pointing_inside(ws: Workspace, root: Path) -> None:
    (root / "later").symlink_to("src/not-yet.py")
    # Writing through it would create a file inside the root, so resolving it is allowed...
    assert ws.resolve("later") == root / "src" / "not-yet.py"
    # ...but it does not exist.
    assert "does not exist" in refused(ws, "later", must_exist=True)


def test_not_yet_existing_file_is_checked_through_its_nearest_parent(
    ws: Workspace, root: Path, outside: Path
) -> None:
    assert ws.resolve("a/b/c/new.txt") == root / "a" / "b" / "c" / "new.txt"
    (root / "out").symlink_to(outside)
    assert "outside the workspace" in refused(ws, "out/a/b/c/new.txt")


def test_nul_byte_is_refused(ws: Workspace) -> None:
    assert "NUL byte" in refused(ws, "src/main.py\x00.txt")
    assert "NUL byte" in refused(ws, "\x00")


def test_unencodable_path_is_refused_cleanly(ws: Workspace) -> None:
    """A lone surrogate (JSON can carry ``"\\ud800"``) is not a file name; say so."""
    assert "not a valid file name" in refused(ws, "bad\ud800name")


def test_overlong_component_is_refused(ws: Workspace) -> None:
    name = "a" * (MAX_NAME_BYTES + 1)
    assert f"longer than {MAX_NAME_BYTES} bytes" in refused(ws, f"src/{name}")
    # Bytes, not characters: 128 two-byte characters are 256 bytes.
    assert f"longer than {MAX_NAME_BYTES} bytes" in refused(ws, "é" * 128)


def test_longest_component_is_accepted(ws: Workspace, root: Path) -> None:
    name = "a" * MAX_NAME_BYTES
    (root / name).write_text("x")
    assert ws.resolve(name, must_exist=True) == root / name


def test_overlong_path_is_refused(ws: Workspace) -> None:
    path = "/".join(["d" * 100] * 41)  # 4140 bytes, every component short
    message = refused(ws, path)
    assert f"the limit is {MAX_PATH_BYTES} bytes" in message
    assert "4140 bytes" in message


def test_deep_but_legal_path(ws: Workspace, root: Path) -> None:
    deep = Path(*["d" * 50] * 20)  # 1019 bytes
    (root / deep).mkdir(parents=True)
    assert ws.resolve(deep / "f.txt") == root / deep / "f.txt"


def test_file_used_as_directory(ws: Workspace) -> None:
    assert "cannot resolve" in refused(ws, "src/main.py/child")


def test_contains(ws: Workspace, root: Path) -> None:
    assert ws.contains(root)
    assert ws.contains(root / "x" / "y")
    assert not ws.contains(root.parent)
    assert not ws.contains(Path("/etc"))


def test_containment_compares_whole_components(tmp_path: Path, root: Path) -> None:
    sibling = root.parent / (root.name + "-evil")
    assert not Workspace.from_paths([root]).contains(sibling / "x")
    inner = root / "src"
    ws = Workspace.from_paths([inner, root])  # nested roots: the first that holds a path wins
    assert ws.root_of(inner / "main.py") == inner
    assert ws.root_of(root / "other.txt") == root
    assert ws.root_of(root.parent) is None
    assert ws.display(inner / "a" / "b.txt") == "a/b.txt"
    assert ws.display(root / "other.txt") == str(root / "other.txt")
    assert Workspace.from_paths(["/"]).display(Path("/etc/hostname")) == "etc/hostname"
