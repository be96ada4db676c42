"""``make demo``: start the bundled servers as real stdio subprocesses and use them.

Each server is launched exactly as an MCP client (Claude Code, Codex, Cursor) would launch it,
and called through the official MCP client: a directory listing, a file read, a plan update.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

REPO = Path(__file__).resolve().parents[1]
console = Console()


def server(module: str, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", module, *args], cwd=str(REPO))


async def show(client: Client, tool: str, arguments: dict[str, object]) -> None:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = (time.perf_counter() - started) * 1000
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    style = "red" if result.is_error else "green"
    title = f"{tool}({', '.join(f'{k}={v!r}' for k, v in arguments.items())}) · {elapsed:.1f} ms"
    console.print(Panel(Text(text), title=Text(title), border_style=style, expand=False))


async def main() -> None:
    root = str(REPO)
    with tempfile.TemporaryDirectory() as state:
        plan_file = str(Path(state) / "plan.json")
        started = time.perf_counter()
        async with (
            Client(server("servers.files", "--root", root)) as files,
            Client(server("servers.plan", "--root", root, "--state-file", plan_file)) as plan,
        ):
            ready = (time.perf_counter() - started) * 1000
            tools = [t.name for c in (files, plan) for t in (await c.list_tools()).tools]
            console.print(f"[bold]Two MCP servers up over stdio in {ready:.0f} ms[/]: {tools}")
            await show(files, "list_dir", {"path": "servers", "depth": 1})
            await show(files, "read_file", {"path": "servers/plan/planning.py", "limit": 12})
            await show(files, "read_file", {"path": "../../etc/passwd"})
            await show(
                plan,
                "update_plan",
                {
                    "explanation": "demo plan",
                    "plan": [
                        {"step": "List the servers package", "status": "completed"},
                        {"step": "Read the plan validator", "status": "completed"},
                        {"step": "Record this plan", "status": "in_progress"},
                    ],
                },
            )
            await show(plan, "get_plan", {})


if __name__ == "__main__":
    anyio.run(main)
