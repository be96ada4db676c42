"""The files server: ``read_file``, ``list_dir``, ``view_image``, and files as MCP resources."""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlparse

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ImageContent
from pydantic import Field

from schemas.files import DirEntry, ListDirResult, ReadFileResult, ViewImageResult
from servers.common.annotations import read_only
from servers.common.binary import SNIFF_BYTES
from servers.common.limits import format_size
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.subscriptions import ResourceSubscriptions
from servers.common.workspace import Workspace, WorkspaceError
from servers.files.listing import list_tree, render_listing
from servers.files.reading import NotTextError, read_slice, render_slice, sniff_kind
from servers.files.watching import watch_subscribed_files

IMAGE_TYPES = {
    "PNG image": "image/png",
    "JPEG image": "image/jpeg",
    "GIF image": "image/gif",
    "WebP image": "image/webp",
}
RESOURCE_PAGE = 500
MAX_RESOURCE_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class FilesSettings:
    workspace: Workspace
    max_image_bytes: int = 5 << 20


def file_uri(path: Path) -> str:
    return "file://" + quote(path.as_posix())


def path_from_uri(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise WorkspaceError(f"unsupported resource URI {uri!r}; expected file://")
    return unquote(parsed.path)


def create_server(settings: FilesSettings) -> MCPServer:
    ws = settings.workspace
    subs = ResourceSubscriptions()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_subscribed_files, subs, watched_path)
            yield
            tg.cancel_scope.cancel()

    server = new_server(
        "files",
        "Read files and list directories inside the workspace roots: " + ws.describe_roots(),
        subscriptions=subs.bus,
        lifespan=lifespan,
    )
    subs.install(server)

    def watched_path(uri: str) -> str:
        """A subscribed URI's file, if it is inside the workspace (WorkspaceError otherwise)."""
        return str(ws.resolve(path_from_uri(uri)))

    def resolve(path: str, *, must_exist: bool = True) -> Path:
        try:
            return ws.resolve(path, must_exist=must_exist)
        except WorkspaceError as exc:
            raise ToolError(str(exc)) from exc

    def resolve_file(path: str) -> Path:
        """A regular file: opening a FIFO or a device would block or never end."""
        real = resolve(path)
        if real.is_dir():
            raise ToolError(f"{ws.display(real)!r} is a directory; use list_dir to see inside it")
        if not real.is_file():
            raise ToolError(f"{ws.display(real)!r} is not a regular file (FIFO, socket or device)")
        return real

    @server.tool(annotations=read_only("Read file"))
    async def read_file(
        path: Annotated[str, Field(description="file to read, relative to the workspace root")],
        offset: Annotated[int, Field(ge=1, description="1-indexed line to start at")] = 1,
        limit: Annotated[int, Field(ge=1, le=10000, description="maximum lines to return")] = 2000,
    ) -> Annotated[CallToolResult, ReadFileResult]:
        """Read a text file as numbered lines (1-indexed). Long files are returned in pages:
        when more lines follow, the result says which offset to ask for next. Binary files are
        refused with their type and size; use view_image for images."""
        real = resolve_file(path)
        try:
            piece = await anyio.to_thread.run_sync(read_slice, real, offset, limit)
        except (NotTextError, ValueError) as exc:
            raise ToolError(f"{ws.display(real)}: {exc}") from exc
        except OSError as exc:
            raise ToolError(f"cannot read {ws.display(real)!r}: {exc.strerror}") from exc
        shown = ws.display(real)
        result = ReadFileResult(
            path=shown,
            offset=offset,
            lines=piece.lines,
            next_offset=piece.next_offset,
            encoding=piece.encoding,
            line_endings=piece.line_endings,  # type: ignore[arg-type]
            notes=piece.notes,
        )
        return tool_result(result, render_slice(piece, shown))

    @server.tool(annotations=read_only("List directory"))
    async def list_dir(
        path: Annotated[str, Field(description="directory to list")] = ".",
        depth: Annotated[int, Field(ge=1, le=10, description="levels to descend")] = 2,
        offset: Annotated[int, Field(ge=1, description="1-indexed entry to start at")] = 1,
        limit: Annotated[int, Field(ge=1, le=5000, description="maximum entries")] = 200,
    ) -> Annotated[CallToolResult, ListDirResult]:
        """List a directory tree, sorted, directories marked with a trailing '/'. Entries
        matched by .gitignore and version-control directories are left out and counted."""
        real = resolve(path)
        if not real.is_dir():
            raise ToolError(f"{ws.display(real)!r} is not a directory; use read_file for files")
        root = ws.root_of(real)
        assert root is not None  # resolve() only returns paths inside the roots
        listing = await anyio.to_thread.run_sync(list_tree, real, root, depth)
        total = len(listing.entries)
        page = listing.entries[offset - 1 : offset - 1 + limit]
        next_offset = offset + len(page) if offset - 1 + limit < total else None
        shown = ws.display(real)
        trailer: list[str] = []
        if next_offset is not None:
            trailer.append(
                f"{total - (next_offset - 1)} more entries; continue with "
                f"list_dir(path={shown!r}, depth={depth}, offset={next_offset})"
            )
        if listing.ignored:
            trailer.append(f"{listing.ignored} entries hidden by .gitignore or .git")
        if listing.beyond_depth:
            trailer.append(f"{listing.beyond_depth} entries deeper than depth={depth} not shown")
        trailer.extend(f"unreadable: {u}" for u in listing.unreadable)
        result = ListDirResult(
            path=shown,
            entries=[
                DirEntry(
                    path=e.path,
                    type="dir" if e.is_dir else "symlink" if e.is_symlink else "file",
                    depth=e.depth,
                )
                for e in page
            ],
            offset=offset,
            total=total,
            next_offset=next_offset,
            ignored=listing.ignored,
            beyond_depth=listing.beyond_depth,
        )
        header = f"{real}/ ({total} entries)"
        return tool_result(result, render_listing(page, header, trailer))

    @server.tool(annotations=read_only("View image"))
    async def view_image(
        path: Annotated[str, Field(description="PNG, JPEG, GIF or WebP file to look at")],
    ) -> Annotated[CallToolResult, ViewImageResult]:
        """Show an image file (PNG, JPEG, GIF, WebP) so you can look at it."""
        real = resolve_file(path)
        size = real.stat().st_size
        if size > settings.max_image_bytes:
            raise ToolError(
                f"{ws.display(real)} is {format_size(size)}; the limit for images is "
                f"{format_size(settings.max_image_bytes)}"
            )
        data = await anyio.Path(real).read_bytes()
        kind = sniff_kind(data[:16])
        mime = IMAGE_TYPES.get(kind or "")
        if mime is None:
            raise ToolError(
                f"{ws.display(real)} is not a PNG, JPEG, GIF or WebP image "
                f"({kind or 'looks like text'})"
            )
        result = ViewImageResult(path=ws.display(real), mime_type=mime, size_bytes=size)
        image = ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime)
        text = f"{result.path}: {mime}, {format_size(size)}"
        return tool_result(result, text, extra=[image])

    _install_file_resources(server, ws)
    return server


def _install_file_resources(server: MCPServer[Any], ws: Workspace) -> None:
    """Serve every non-ignored file under the roots as a ``file://`` resource, paged."""
    low = server._lowlevel_server

    async def list_resources(
        ctx: Any, params: types.PaginatedRequestParams
    ) -> types.ListResourcesResult:
        start = int(params.cursor) if params.cursor and params.cursor.isdigit() else 0
        files = await anyio.to_thread.run_sync(_all_files, ws)
        page = files[start : start + RESOURCE_PAGE]
        resources = [
            types.Resource(
                uri=file_uri(p),
                name=ws.display(p),
                mime_type=mimetypes.guess_type(p.name)[0] or "text/plain",
            )
            for p in page
        ]
        more = start + RESOURCE_PAGE < len(files)
        return types.ListResourcesResult(
            resources=resources, next_cursor=str(start + RESOURCE_PAGE) if more else None
        )

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            real = ws.resolve(path_from_uri(uri), must_exist=True)
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from exc
        if not real.is_file():
            raise ValueError(f"{uri} is not a regular file")
        if real.stat().st_size > MAX_RESOURCE_BYTES:
            raise ValueError(f"{uri} is larger than {format_size(MAX_RESOURCE_BYTES)}")
        data = await anyio.Path(real).read_bytes()
        mime = mimetypes.guess_type(real.name)[0]
        if sniff_kind(data[:SNIFF_BYTES]) is None:
            text = data.decode("utf-8", errors="replace")
            contents: types.TextResourceContents | types.BlobResourceContents = (
                types.TextResourceContents(uri=uri, mime_type=mime or "text/plain", text=text)
            )
        else:
            contents = types.BlobResourceContents(
                uri=uri,
                mime_type=mime or "application/octet-stream",
                blob=base64.b64encode(data).decode(),
            )
        return types.ReadResourceResult(contents=[contents])

    low.add_request_handler("resources/list", types.PaginatedRequestParams, list_resources)
    low.add_request_handler("resources/read", types.ReadResourceRequestParams, read_resource)


def _all_files(ws: Workspace) -> list[Path]:
    files: list[Path] = []
    for root in ws.roots:
        listing = list_tree(root, root, depth=64)
        paths = (root / e.path for e in listing.entries if not e.is_dir)
        # Only what resources/read will serve: no FIFOs, no symlinks leading out of the roots.
        files.extend(p for p in paths if _servable(ws, p))
    return files


def _servable(ws: Workspace, path: Path) -> bool:
    real = Path(os.path.realpath(path))
    return ws.contains(real) and real.is_file()
