"""The files server through a real MCP client, in both protocol eras (handshake and 2026-07-28)."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import BlobResourceContents, ImageContent, TextResourceContents

from servers.common.atomic import write_atomic
from servers.common.workspace import Workspace
from servers.files import FilesSettings, create_server
from servers.files.server import RESOURCE_PAGE, file_uri
from tests.support import MODES, ResourceUpdates, poke_until, text_of

pytestmark = pytest.mark.anyio


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = (tmp_path / "ws").resolve()
    r.mkdir()
    (r / "hello.txt").write_text("hello\nworld\n")
    (r / "src").mkdir()
    (r / "src" / "app.py").write_text("".join(f"print({i})\n" for i in range(1, 101)))
    (r / ".gitignore").write_text("*.log\n")
    (r / "debug.log").write_text("noise\n")
    (r / "pic.png").write_bytes(png(2, 2))
    return r


@asynccontextmanager
async def connect(
    mode: str, *roots: Path, max_image_bytes: int = 5 << 20, **kwargs: Any
) -> AsyncIterator[Client]:
    server = create_server(
        FilesSettings(workspace=Workspace.from_paths(roots), max_image_bytes=max_image_bytes)
    )
    async with Client(server, mode=mode, **kwargs) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str, Any]:
    result = await client.call_tool(tool, arguments)
    return result.is_error, text_of(result), result.structured_content


# --- tools/list -------------------------------------------------------------------------------


async def test_tools_are_listed_with_annotations_and_schemas(mode: str, root: Path) -> None:
    async with connect(mode, root) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"read_file", "list_dir", "view_image"}
    for tool in tools.values():
        assert tool.description and len(tool.description) > 30
        a = tool.annotations
        assert a is not None
        assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (
            True,
            False,
            True,
            False,
        )
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        for prop in tool.input_schema["properties"].values():
            assert prop.get("description"), tool.name
    read = tools["read_file"]
    assert read.input_schema["required"] == ["path"]
    assert read.input_schema["properties"]["offset"]["default"] == 1
    assert read.input_schema["properties"]["offset"]["minimum"] == 1
    assert read.input_schema["properties"]["limit"]["default"] == 2000
    assert {"path", "lines", "next_offset"} <= set(read.output_schema["properties"])
    assert {"entries", "ignored", "beyond_depth"} <= set(
        tools["list_dir"].output_schema["properties"]
    )


# --- read_file --------------------------------------------------------------------------------


async def test_read_file(mode: str, root: Path) -> None:
    async with connect(mode, root) as client:
        error, text, data = await call(client, "read_file", path="hello.txt")
    assert not error
    assert text == "1\thello\n2\tworld"
    assert data == {
        "path": "hello.txt",
        "offset": 1,
        "lines": ["hello", "world"],
        "next_offset": None,
        "encoding": "utf-8",
        "line_endings": "lf",
        "notes": [],
    }


async def test_read_file_pages_and_says_how_to_continue(mode: str, root: Path) -> None:
    async with connect(mode, root) as client:
        error, text, data = await call(client, "read_file", path="src/app.py", offset=41, limit=20)
        assert not error
        assert data["lines"] == [f"print({i})" for i in range(41, 61)]
        assert data["next_offset"] == 61
        assert "read_file(path='src/app.py', offset=61)" in text
        # Following the hint gets the next page.
        _, _, data = await call(client, "read_file", path="src/app.py", offset=61, limit=1000)
        assert data["lines"][0] == "print(61)" and data["next_offset"] is None


async def test_read_file_absolute_path_and_second_root(
    mode: str, root: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.md").write_text("# notes\n")
    async with connect(mode, root, other) as client:
        error, _, data = await call(client, "read_file", path=str(root / "hello.txt"))
        assert not error and data["path"] == "hello.txt"
        error, _, data = await call(client, "read_file", path=str(other / "notes.md"))
        assert not error and data["lines"] == ["# notes"]
        assert data["path"] == str(other.resolve() / "notes.md")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"path": "missing.txt"}, "'missing.txt' does not exist"),
        ({"path": "src"}, "'src' is a directory; use list_dir"),
        ({"path": "pic.png"}, "binary file (PNG image"),
        ({"path": "hello.txt", "offset": 50}, "offset 50 is past the end of the file (2 lines)"),
        ({"path": "hello.txt", "offset": 0}, "offset"),
        ({"path": "hello.txt", "limit": 0}, "limit"),
        ({"path": "../outside.txt"}, "outside the workspace"),
        ({"path": "/etc/passwd"}, "outside the workspace"),
        ({}, "path"),
    ],
)
async def test_read_file_errors_are_tool_errors_with_a_message(
    mode: str, root: Path, arguments: dict[str, Any], message: str
) -> None:
    async with connect(mode, root) as client:
        result = await client.call_tool("read_file", arguments)
        assert result.is_error
        assert message in text_of(result)
        # The server survived: the next call works.
        assert not (await client.call_tool("read_file", {"path": "hello.txt"})).is_error


async def test_read_file_refuses_a_fifo_instead_of_hanging(mode: str, root: Path) -> None:
    os.mkfifo(root / "pipe")
    async with connect(mode, root) as client:
        with anyio.fail_after(10):
            error, text, _ = await call(client, "read_file", path="pipe")
            assert error and "not a regular file" in text
            error, text, _ = await call(client, "view_image", path="pipe")
            assert error and "not a regular file" in text
        listed = {r.name for r in (await client.list_resources()).resources}
        assert "pipe" not in listed


async def test_read_file_large_file_near_the_end(mode: str, root: Path) -> None:
    (root / "big.txt").write_text("".join(f"{i:08d}\n" for i in range(1, 300_001)))
    async with connect(mode, root) as client:
        _, text, data = await call(client, "read_file", path="big.txt", offset=299_990, limit=5)
    assert data["lines"] == [f"{i:08d}" for i in range(299_990, 299_995)]
    assert text.startswith("299990\t00299990\n")


# --- list_dir ---------------------------------------------------------------------------------


async def test_list_dir(mode: str, root: Path) -> None:
    async with connect(mode, root) as client:
        error, text, data = await call(client, "list_dir")
    assert not error
    assert [(e["path"], e["type"]) for e in data["entries"]] == [
        (".gitignore", "file"),
        ("hello.txt", "file"),
        ("pic.png", "file"),
        ("src", "dir"),
        ("src/app.py", "file"),
    ]
    assert data["ignored"] == 1 and data["total"] == 5 and data["next_offset"] is None
    assert "src/\n  app.py" in text
    assert "[1 entries hidden by .gitignore or .git]" in text


async def test_list_dir_pages_and_depth(mode: str, root: Path) -> None:
    for i in range(30):
        (root / "src" / f"m{i:02d}.py").write_text("")
    async with connect(mode, root) as client:
        _, text, data = await call(client, "list_dir", path="src", limit=10)
        assert [e["path"] for e in data["entries"]][:2] == ["app.py", "m00.py"]
        assert data["next_offset"] == 11 and data["total"] == 31
        assert "21 more entries; continue with list_dir(path='src', depth=2, offset=11)" in text
        _, _, page = await call(client, "list_dir", path="src", offset=31, limit=10)
        assert [e["path"] for e in page["entries"]] == ["m29.py"]
        assert page["next_offset"] is None
        _, text, shallow = await call(client, "list_dir", depth=1)
        assert [e["path"] for e in shallow["entries"]] == [
            ".gitignore",
            "hello.txt",
            "pic.png",
            "src",
        ]
        assert shallow["beyond_depth"] == 31
        assert "31 entries deeper than depth=1 not shown" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"path": "hello.txt"}, "is not a directory; use read_file"),
        ({"path": "nope"}, "does not exist"),
        ({"path": ".."}, "outside the workspace"),
        ({"depth": 0}, "depth"),
    ],
)
async def test_list_dir_errors(
    mode: str, root: Path, arguments: dict[str, Any], message: str
) -> None:
    async with connect(mode, root) as client:
        error, text, _ = await call(client, "list_dir", **arguments)
    assert error and message in text


# --- view_image -------------------------------------------------------------------------------


async def test_view_image(mode: str, root: Path) -> None:
    async with connect(mode, root) as client:
        result = await client.call_tool("view_image", {"path": "pic.png"})
    assert not result.is_error
    images = [b for b in result.content if isinstance(b, ImageContent)]
    assert len(images) == 1
    assert images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data) == (root / "pic.png").read_bytes()
    assert result.structured_content == {
        "path": "pic.png",
        "mime_type": "image/png",
        "size_bytes": len(png(2, 2)),
    }


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("hello.txt", "is not a PNG, JPEG, GIF or WebP image (looks like text)"),
        ("src", "is a directory"),
        ("nope.png", "does not exist"),
        ("big.png", "the limit for images is 1.0 KB"),
    ],
)
async def test_view_image_errors(mode: str, root: Path, path: str, message: str) -> None:
    (root / "big.png").write_bytes(png(64, 64) + b"\x00" * 2048)
    async with connect(mode, root, max_image_bytes=1024) as client:
        error, text, _ = await call(client, "view_image", path=path)
    assert error and message in text


# --- resources --------------------------------------------------------------------------------


async def test_resources_list_and_read(mode: str, root: Path) -> None:
    (root / "naïve café.txt").write_text("unicode name\n")
    async with connect(mode, root) as client:
        listed = (await client.list_resources()).resources
        by_name = {r.name: r for r in listed}
        assert set(by_name) == {
            ".gitignore",
            "hello.txt",
            "naïve café.txt",
            "pic.png",
            "src/app.py",
        }
        assert str(by_name["hello.txt"].uri) == f"file://{root}/hello.txt"
        assert by_name["pic.png"].mime_type == "image/png"

        text = (await client.read_resource(str(by_name["naïve café.txt"].uri))).contents[0]
        assert isinstance(text, TextResourceContents) and text.text == "unicode name\n"
        blob = (await client.read_resource(str(by_name["pic.png"].uri))).contents[0]
        assert isinstance(blob, BlobResourceContents)
        assert base64.b64decode(blob.blob) == png(2, 2)


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "file://{root}/../x.txt", "file://{root}/missing", "http://x/y"]
)
async def test_resource_read_outside_or_missing_is_an_error(
    mode: str, root: Path, uri: str
) -> None:
    async with connect(mode, root) as client:
        with pytest.raises(MCPError):
            await client.read_resource(uri.format(root=root))


async def test_resources_are_paged(mode: str, root: Path) -> None:
    many = root / "many"
    many.mkdir()
    for i in range(RESOURCE_PAGE + 10):
        (many / f"{i:04d}.txt").write_text("")
    async with connect(mode, root) as client:
        first = await client.list_resources()
        assert len(first.resources) == RESOURCE_PAGE and first.next_cursor
        second = await client.list_resources(cursor=first.next_cursor)
        assert second.next_cursor is None
    names = {r.name for r in first.resources} | {r.name for r in second.resources}
    assert len(names) == RESOURCE_PAGE + 10 + 4  # + .gitignore, hello.txt, pic.png, app.py


async def test_resources_do_not_list_symlinks_leading_out(
    mode: str, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("secret\n")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (root / "alias.txt").symlink_to(root / "hello.txt")
    async with connect(mode, root) as client:
        names = {r.name for r in (await client.list_resources()).resources}
    assert "leak.txt" not in names
    assert "alias.txt" in names


# --- subscriptions ----------------------------------------------------------------------------


async def test_legacy_subscription_is_notified_when_the_file_changes(root: Path) -> None:
    updates = ResourceUpdates()
    uri = file_uri(root / "hello.txt")
    async with connect("legacy", root, message_handler=updates) as client:
        caps = client.session.server_capabilities
        assert caps is not None and caps.resources is not None and caps.resources.subscribe
        await client.subscribe_resource(uri)
        await poke_until(
            lambda: updates.wait_for(uri), lambda: (root / "hello.txt").write_text("changed\n")
        )


async def test_legacy_subscription_sees_atomic_replacement(root: Path) -> None:
    """Editors and our patch server replace files by rename; that is a change too."""
    updates = ResourceUpdates()
    uri = file_uri(root / "src" / "app.py")
    async with connect("legacy", root, message_handler=updates) as client:
        await client.subscribe_resource(uri)
        await poke_until(
            lambda: updates.wait_for(uri),
            lambda: write_atomic(root / "src" / "app.py", b"replaced\n"),
        )


async def test_legacy_only_subscribed_files_inside_the_workspace_notify(
    root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (root / "other.txt").write_text("x")
    watched, secret = file_uri(root / "hello.txt"), file_uri(outside / "secret.txt")
    updates = ResourceUpdates()
    async with connect("legacy", root, message_handler=updates) as client:
        await client.subscribe_resource(secret)
        await client.subscribe_resource(watched)
        await client.subscribe_resource(file_uri(root / "other.txt"))
        await client.unsubscribe_resource(file_uri(root / "other.txt"))

        def poke() -> None:  # changes to the others come first, so would be reported first
            (outside / "secret.txt").write_text("y")
            (root / "other.txt").write_text("y")
            (root / "hello.txt").write_text("y")

        await poke_until(lambda: updates.wait_for(watched), poke)
    assert set(updates.uris) == {watched}


async def test_modern_listen_is_notified_when_the_file_changes(root: Path) -> None:
    uri = file_uri(root / "hello.txt")
    async with connect("auto", root) as client:
        assert client.session.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[uri]) as sub:
            assert sub.honored.resource_subscriptions == [uri]
            event = await poke_until(
                sub.__anext__, lambda: (root / "hello.txt").write_text("changed\n")
            )
    assert str(getattr(event, "uri", "")) == uri


async def test_both_eras_at_once(root: Path) -> None:
    """One server, a legacy subscriber and a modern listener: both hear about the change."""
    uri = file_uri(root / "hello.txt")
    server = create_server(FilesSettings(workspace=Workspace.from_paths([root])))
    updates = ResourceUpdates()
    async with (
        Client(server, mode="legacy", message_handler=updates) as old,
        Client(server, mode="auto") as new,
        new.listen(resource_subscriptions=[uri]) as sub,
    ):
        await old.subscribe_resource(uri)
        await poke_until(sub.__anext__, lambda: (root / "hello.txt").write_text("v2\n"))
        await poke_until(
            lambda: updates.wait_for(uri), lambda: (root / "hello.txt").write_text("v3\n")
        )
