"""The adversarial path suite, through the tools: nothing outside the roots is ever read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from servers.common.workspace import Workspace
from servers.files import FilesSettings, create_server
from tests.support import MODES, text_of

pytestmark = pytest.mark.anyio

SECRET = "TOP-SECRET-CONTENT"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``root`` (the workspace) next to ``outside`` (a directory holding a secret)."""
    root = (tmp_path / "root").resolve()
    outside = (tmp_path / "outside").resolve()
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    (root / "ok.txt").write_text("fine\n")
    (root / "src").mkdir()
    (root / "etc").symlink_to("/etc")
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "src" / "vendor").symlink_to(outside)
    (root / "up").symlink_to("../outside")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "self").symlink_to("self")
    (root / "dangling-out").symlink_to(outside / "missing.txt")
    (root / "dangling-in").symlink_to("src/missing.txt")
    (root / "Ünïcødé 名前 🚀.txt").write_text("unicode ok\n")
    return root, outside


@pytest.fixture
async def client(mode: str, layout: tuple[Path, Path]) -> AsyncIterator[Client]:
    root, _ = layout
    server = create_server(FilesSettings(workspace=Workspace.from_paths([root])))
    async with Client(server, mode=mode) as c:
        yield c


ESCAPES = [
    "../outside/secret.txt",
    "../../../../../../../../../../etc/passwd",
    "src/../../outside/secret.txt",
    "./src/./../../outside/./secret.txt",
    "{outside}/secret.txt",
    "/etc/passwd",
    "/etc/shadow",
    "/proc/self/environ",
    "etc/passwd",
    "etc/hostname",
    "leak.txt",
    "src/vendor/secret.txt",
    "up/secret.txt",
    "dangling-out",
    "{root}/../outside/secret.txt",
    "~/../../../../etc/passwd",
]


@pytest.mark.parametrize("path", ESCAPES)
async def test_escapes_are_refused_naming_the_roots(
    client: Client, layout: tuple[Path, Path], path: str
) -> None:
    root, outside = layout
    result = await client.call_tool("read_file", {"path": path.format(root=root, outside=outside)})
    text = text_of(result)
    assert result.is_error
    assert "outside the workspace" in text
    assert f"allowed roots: {root}" in text
    assert SECRET not in text and "root:x:" not in text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("loop-a", "cannot resolve"),
        ("self", "cannot resolve"),
        ("loop-b/file.txt", "cannot resolve"),
        ("dangling-in", "does not exist"),
        ("src/missing/deeper.txt", "does not exist"),
        ("ok.txt\x00/../../outside/secret.txt", "NUL byte"),
        ("x" * 256, "longer than 255 bytes"),
        ("/".join(["d" * 200] * 21), "the limit is 4096 bytes"),
        ("ok.txt/child", "cannot resolve"),
    ],
)
async def test_broken_and_hostile_paths_are_clear_errors(
    client: Client, path: str, message: str
) -> None:
    result = await client.call_tool("read_file", {"path": path})
    assert result.is_error
    assert message in text_of(result)
    assert SECRET not in text_of(result)


async def test_every_tool_refuses_the_same_escapes(client: Client) -> None:
    for tool, args in [
        ("list_dir", {"path": "src/vendor"}),
        ("list_dir", {"path": "etc"}),
        ("list_dir", {"path": ".."}),
        ("view_image", {"path": "leak.txt"}),
        ("view_image", {"path": "../outside/secret.txt"}),
    ]:
        result = await client.call_tool(tool, args)
        assert result.is_error, (tool, args)
        assert "outside the workspace" in text_of(result), (tool, args)


async def test_listing_shows_escaping_symlinks_but_never_their_contents(client: Client) -> None:
    result = await client.call_tool("list_dir", {"path": ".", "depth": 5})
    assert not result.is_error
    assert SECRET not in text_of(result)
    entries = {e["path"]: e["type"] for e in (result.structured_content or {})["entries"]}
    assert entries["etc"] == "symlink" and entries["src/vendor"] == "symlink"
    assert not any(p.startswith(("etc/", "src/vendor/", "up/")) for p in entries)


async def test_unicode_name_reads(client: Client) -> None:
    result = await client.call_tool("read_file", {"path": "Ünïcødé 名前 🚀.txt"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["lines"] == ["unicode ok"]
    assert result.structured_content["path"] == "Ünïcødé 名前 🚀.txt"


async def test_tilde_inside_the_workspace_reads(
    mode: str, layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = layout
    monkeypatch.setenv("HOME", str(root))
    server = create_server(FilesSettings(workspace=Workspace.from_paths([root])))
    async with Client(server, mode=mode) as c:
        result = await c.call_tool("read_file", {"path": "~/ok.txt"})
    assert not result.is_error and "fine" in text_of(result)


async def test_second_root_is_reachable_only_by_its_own_path(
    mode: str, layout: tuple[Path, Path]
) -> None:
    root, outside = layout
    server = create_server(FilesSettings(workspace=Workspace.from_paths([root, outside])))
    async with Client(server, mode=mode) as c:
        ok = await c.call_tool("read_file", {"path": str(outside / "secret.txt")})
        via_link = await c.call_tool("read_file", {"path": "leak.txt"})
        still_out = await c.call_tool("read_file", {"path": "/etc/passwd"})
    assert not ok.is_error and SECRET in text_of(ok)
    assert not via_link.is_error  # the link's target is inside the second root now
    assert still_out.is_error and str(outside) in text_of(still_out)
