"""``toolwire call SERVER [TOOL] [key=value ...]``: one tool call, by hand, against any server.

SERVER is a configured server's name (bundled, ``toolwire.toml``, ``.mcp.json``, Codex-style
``[mcp_servers]``, an installed entry point) or the URL of a running one (``toolwire dev``
prints it). Values are read the way the tool's input schema asks: for a string parameter the
text is taken as is, otherwise as JSON (``limit=5``, ``flag=true``, ``items='["a","b"]'``),
falling back to the text when it is not JSON. Without TOOL, the server's tools are listed.

Exit codes: 0 the tool succeeded, 1 it returned an error (or the server failed), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from agent.cli._config import add_config_options, settings_from_args

if TYPE_CHECKING:
    pass

USAGE_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", help="configured server name, or an http(s)://.../mcp URL")
    parser.add_argument("tool", nargs="?", help="tool to call; omit to list the tools")
    parser.add_argument("pairs", nargs="*", metavar="key=value", help="arguments")
    parser.add_argument(
        "--args", dest="json_args", metavar="JSON", help="arguments as a JSON object"
    )
    parser.add_argument("--json", action="store_true", help="print the whole MCP result as JSON")
    add_config_options(parser)
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="NAME: VALUE",
        help="HTTP header for a URL server (repeatable)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from agent.config import ConfigError

    try:
        return anyio.run(_run, args)
    except ConfigError as exc:
        print(f"toolwire call: {exc}", file=sys.stderr)
        return USAGE_ERROR


async def _run(args: argparse.Namespace) -> int:
    from agent.testing.configured import ServerStartError, connect_configured, is_url

    headers = dict(_header(h) for h in args.header)
    bad = [pair for pair in args.pairs if "=" not in pair or pair.startswith("=")]
    if bad:  # before starting anything
        print(f"toolwire call: argument {bad[0]!r}: expected key=value", file=sys.stderr)
        return USAGE_ERROR
    try:
        settings = None if is_url(args.server) else settings_from_args(args)
        async with connect_configured(args.server, settings=settings, headers=headers) as session:
            tools = {tool.name: tool for tool in await session.tools()}
            if args.tool is None:
                print(render_tool_list(list(tools.values())))
                return 0
            if args.tool not in tools:
                print(
                    f"toolwire call: {args.server} has no tool {args.tool!r} "
                    f"(it has: {', '.join(sorted(tools)) or 'none'})",
                    file=sys.stderr,
                )
                return USAGE_ERROR
            try:
                arguments = parse_arguments(
                    args.pairs, args.json_args, tools[args.tool].input_schema
                )
            except ValueError as exc:
                print(f"toolwire call: {exc}", file=sys.stderr)
                return USAGE_ERROR
            outcome = await session.call(args.tool, arguments)
    except ServerStartError as exc:
        print(f"toolwire call: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(outcome.result.model_dump_json(by_alias=True, exclude_none=True, indent=2))
    else:
        stream = sys.stderr if outcome.is_error else sys.stdout
        print(render_result(outcome.result), file=stream)
    return 1 if outcome.is_error else 0


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise SystemExit(f"toolwire call: --header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def parse_arguments(
    pairs: Sequence[str], json_args: str | None, schema: dict[str, Any]
) -> dict[str, Any]:
    """``key=value`` pairs (typed by ``schema``) merged over the ``--args`` JSON object."""
    arguments: dict[str, Any] = {}
    if json_args:
        try:
            loaded = json.loads(json_args)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--args is not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise ValueError("--args must be a JSON object")
        arguments.update(loaded)
    properties = schema.get("properties") or {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"argument {pair!r}: expected key=value")
        arguments[key] = coerce(raw, properties.get(key))
    return arguments


def _types(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    found = {kind} if isinstance(kind, str) else set(kind or ())
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            found |= _types(option)
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        found.add("string")
    return found


def coerce(raw: str, schema: Any) -> Any:
    """The value a ``key=value`` text stands for, given the parameter's schema (if known)."""
    types = _types(schema)
    if raw == "null" and "null" in types:
        return None
    if types and types <= {"string", "null"}:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def render_result(result: Any) -> str:
    """Text blocks as they are; images and resources as one line each; structured content as
    JSON when the tool sent no text."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(block.data) * 3 // 4
            parts.append(f"[{kind}: {block.mime_type}, about {size} bytes]")
        else:
            parts.append(f"[{kind}]")
    if not any(parts) and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
    return "\n".join(parts)


def render_tool_list(tools: Sequence[Any]) -> str:
    lines = []
    for tool in sorted(tools, key=lambda t: t.name):
        properties = (tool.input_schema or {}).get("properties") or {}
        required = set((tool.input_schema or {}).get("required") or ())
        params = ", ".join(p if p in required else f"{p}?" for p in properties)
        paragraph = " ".join((tool.description or "").strip().split("\n\n")[0].split())
        sentence = paragraph.split(". ")[0].rstrip(".")
        lines.append(f"{tool.name}({params})  {sentence}".rstrip())
    return "\n".join(lines) or "(no tools)"
