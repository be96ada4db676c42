"""The shell server through MCP over stdio: the round trip of ``exec_command("true")`` without and
with the bubblewrap sandbox beside ``subprocess.run(["true"])``, a command printing 1 GB (wall
time and the server's peak RSS), and 50 concurrent commands.

Targets (issue 5): unsandboxed round trip p50 at most 5 ms, sandboxed at most 10 ms; server peak
RSS under 150 MB for the 1 GB command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench._harness import Row, child_pid, median_ms, peak_rss_mb, percentile_ms, record, verdict
from servers.shell.sandbox import bwrap_argv, probe_bwrap

WARMUP = 20
RUNS = 200
CONCURRENT = 50
GIGABYTE = 1 << 30


def server_pid() -> int:
    return child_pid(b"servers.shell")


def params(root: str, sandbox: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "servers.shell", "--root", root, "--sandbox", sandbox],
    )


async def exec_ok(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("exec_command", arguments)
    data = result.structured_content
    if result.is_error or data is None or data["status"] != "exited":
        raise RuntimeError(f"exec_command failed: {result.content}")
    return dict(data)


def timed_run(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


async def timed_call(client: Client, tool: str, arguments: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = time.perf_counter() - t0
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")
    return elapsed


async def round_trips(
    clients: dict[str, Client], bwrap_argv: list[str] | None
) -> dict[str, list[float]]:
    """Every kind of round trip once per iteration, back to back, so that all of them see the
    same machine load (this box is shared; separate time windows made ratios meaningless)."""
    samples: dict[str, list[float]] = {"true": [], "bwrap true": [], "noop": []}
    samples.update({name: [] for name in clients})
    for i in range(WARMUP + RUNS):
        row = {"true": timed_run(["true"])}
        if bwrap_argv:
            row["bwrap true"] = timed_run([*bwrap_argv, "true"])
        row["noop"] = await timed_call(clients["unsandboxed"], "list_sessions", {})
        for name, client in clients.items():
            row[name] = await timed_call(client, "exec_command", {"cmd": "true"})
        if i >= WARMUP:
            for key, value in row.items():
                samples[key].append(value)
    return samples


async def concurrent(client: Client, cmd: str) -> float:
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENT):
            tg.start_soon(lambda: exec_ok(client, cmd=cmd, yield_time_ms=60_000))
    return time.perf_counter() - t0


def pipe_baseline() -> float:
    """The same 1 GB through a plain pipe into ``wc -c`` (no Python, no MCP)."""
    t0 = time.perf_counter()
    subprocess.run(
        ["bash", "-c", f"yes 'a line of output' | head -c {GIGABYTE} | wc -c"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def p50(samples: list[float]) -> str:
    return f"{median_ms(samples):.2f} ms (p90 {percentile_ms(samples, 90):.2f} ms)"


async def main() -> None:
    probe = probe_bwrap()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as root:
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                "unsandboxed": await stack.enter_async_context(
                    Client(params(root, "danger-full-access"), mode="legacy")
                )
            }
            plain_pid = server_pid()
            if probe.ok:
                clients["bwrap"] = await stack.enter_async_context(
                    Client(params(root, "workspace-write"), mode="legacy")
                )
            raw_bwrap = (
                bwrap_argv(probe.bwrap, "workspace-write", [Path(root)], Path(root))
                if probe.bwrap
                else None
            )
            trips = await round_trips(clients, raw_bwrap)
            true50 = {n: await concurrent(c, "true") for n, c in clients.items()}
            sleep50 = {n: await concurrent(c, "sleep 1") for n, c in clients.items()}
            t0 = time.perf_counter()
            data = await exec_ok(
                clients["unsandboxed"],
                cmd=f"yes 'a line of output' | head -c {GIGABYTE}",
                yield_time_ms=300_000,
            )
            gb_wall = time.perf_counter() - t0
            assert data["output_bytes"] == GIGABYTE
            gb_rss = peak_rss_mb(plain_pid)
        plain = median_ms(trips["unsandboxed"])
        rows += [
            Row("subprocess.run(['true']) p50", p50(trips["true"])),
            Row(
                "exec_command('true') unsandboxed, p50",
                p50(trips["unsandboxed"]),
                "≤ 5 ms",
                verdict(plain, 5, " ms"),
            ),
            Row(
                "  MCP part: no-op tool (list_sessions) on that connection, p50", p50(trips["noop"])
            ),
        ]
        if probe.ok:
            boxed = median_ms(trips["bwrap"])
            rows += [
                Row(
                    "exec_command('true') in bwrap (workspace-write), p50",
                    p50(trips["bwrap"]),
                    "≤ 10 ms",
                    verdict(boxed, 10, " ms"),
                ),
                Row(
                    "  sandbox part: subprocess.run(bwrap ... true), p50", p50(trips["bwrap true"])
                ),
            ]
        else:
            rows.append(
                Row("exec_command('true') in bwrap", f"not measured: {probe.reason}", "≤ 10 ms")
            )
        both = " / ".join(clients)
        rows += [
            Row(
                "1 GB of output (yes piped into head -c 1G), wall time",
                f"{gb_wall:.2f} s (plain pipe into wc -c: {pipe_baseline():.2f} s)",
            ),
            Row(
                "1 GB of output, server peak RSS",
                f"{gb_rss:.0f} MB",
                "< 150 MB",
                verdict(gb_rss, 150, " MB"),
            ),
            Row(
                f"{CONCURRENT} concurrent exec_command('true'), wall time ({both})",
                " / ".join(f"{v * 1000:.0f} ms" for v in true50.values()),
            ),
            Row(
                f"{CONCURRENT} concurrent exec_command('sleep 1'), wall time ({both})",
                " / ".join(f"{v:.2f} s" for v in sleep50.values()),
            ),
        ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows.append(Row("load average (1, 5, 15 min) at the end of the run", load))
    record("shell", "Shell server: exec_command round trip, 1 GB output, concurrency", rows)


if __name__ == "__main__":
    anyio.run(main)
