"""``toolwire tools``: the merged tool list exactly as the model sees it, and where each comes from.

For every tool: the name the model calls, the server and the tool's own name there (the
mapping is reversible, so this is also how to read a transcript), the MCP annotations the
approval policy uses, and whether its schema is strict (and if not, why). ``--json`` prints
one object per tool; ``--schema`` prints the ``tools`` array itself, byte for byte as sent.
"""

from __future__ import annotations

import argparse
import json
import sys

from agent.cli._hub import EXIT_CONFIG, EXIT_OK, EXIT_SERVER_FAILED, add_hub_options, load, with_hub
from agent.hub import Hub, ToolEntry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_hub_options(parser)
    parser.add_argument(
        "--schema",
        action="store_true",
        help="print the Responses API tools array, exactly as sent to the model",
    )


def hints(entry: ToolEntry) -> list[str]:
    a = entry.annotations
    if a is None:
        return []
    flags = [
        ("read-only", a.read_only_hint),
        ("destructive", a.destructive_hint),
        ("idempotent", a.idempotent_hint),
        ("open-world", a.open_world_hint),
    ]
    return [name for name, value in flags if value]


def as_record(entry: ToolEntry) -> dict[str, object]:
    annotations = (
        entry.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
        if entry.annotations is not None
        else {}
    )
    return {
        "name": entry.name,
        "server": entry.server,
        "tool": entry.original,
        "bundled": entry.bundled,
        "annotations": annotations,
        "strict": entry.strict,
        "not_strict_because": entry.schema.reason,
    }


def run(args: argparse.Namespace) -> int:
    settings = load(args)
    if settings is None:
        return EXIT_CONFIG

    async def body(hub: Hub) -> int:
        failed = [s for s in hub.servers if s.status == "failed"]
        if args.schema:
            print(hub.tools_json)
        elif args.json:
            for entry in hub.entries:
                print(json.dumps(as_record(entry), ensure_ascii=False))
        else:
            show_table(hub)
        for status in failed:
            print(f"toolwire: server '{status.name}' failed: {status.error}", file=sys.stderr)
        return EXIT_SERVER_FAILED if failed else EXIT_OK

    return with_hub(settings, body)


def show_table(hub: Hub) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(hub.entries)} tools", title_justify="left")
    for column in ("name", "server", "tool", "annotations", "strict"):
        table.add_column(column, overflow="fold")
    for entry in hub.entries:
        strict = "yes" if entry.strict else f"no: {entry.schema.reason}"
        original = "" if entry.original == entry.name else entry.original
        table.add_row(entry.name, entry.server, original, ", ".join(hints(entry)), strict)
    Console().print(table)
