"""``toolwire servers``: every configured tool server, started, with how it went.

Status, transport, how long it took to start (launch to tools listed), how many tools it
offers, and for a failure the reason and the end of its stderr. The exit code is 1 when any
enabled server failed, so ``toolwire servers`` doubles as a health check in CI.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.cli._hub import EXIT_CONFIG, EXIT_OK, EXIT_SERVER_FAILED, add_hub_options, load, with_hub
from agent.hub import Hub, ServerStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_hub_options(parser)


def run(args: argparse.Namespace) -> int:
    settings = load(args)
    if settings is None:
        return EXIT_CONFIG

    async def body(hub: Hub) -> int:
        statuses = hub.servers
        if args.json:
            for status in statuses:
                print(json.dumps(asdict(status), ensure_ascii=False))
        else:
            show_table(statuses, [str(f) for f in settings.files])
        failed = any(s.status == "failed" for s in statuses)
        return EXIT_SERVER_FAILED if failed else EXIT_OK

    return with_hub(settings, body)


_STYLE = {"ready": "green", "failed": "red", "disabled": "dim", "crashed": "yellow"}


def show_table(statuses: list[ServerStatus], files: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    table = Table(title="servers", title_justify="left")
    for column in ("server", "status", "transport", "start", "tools", "notes"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        start = f"{s.started_in * 1000:.0f} ms" if s.started_in is not None else ""
        notes = s.error or (f"protocol {s.protocol}" if s.protocol else "")
        table.add_row(
            s.name,
            Text(s.status, style=_STYLE.get(s.status, "")),
            s.transport,
            start,
            str(s.tools) if s.status != "disabled" else "",
            notes,
        )
    console.print(table)
    for s in statuses:
        if s.status == "failed" and s.stderr:
            console.print(f"[bold]stderr of {s.name}:[/bold]")
            console.print(Text(s.stderr, style="dim"))
    console.print(Text(f"config files: {', '.join(files) or 'none'}", style="dim"))
