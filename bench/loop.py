"""The agent loop's own cost per turn, and the bytes each transport uploads.

Setup: the scripted model server runs as its own process (instant latency model, so the
"model" costs almost nothing) and records how long it spent on every request
(``server_ms``). The agent runs in this process with the real hub: the five bundled servers
(so the ``tools`` array is the real one, ~20 KB) plus a no-op tool server, all over stdio.
Every scripted turn calls the no-op tool once; a rollout of N turns is N such turns plus the
final answer.

**Client overhead per turn** = wall time of a turn (from the moment the loop starts a
request to the moment that turn's tool output is committed and the next request can start)
minus the server's own time for that request. ``server_ms`` runs from the arrival of the
request's last bytes at the mock to the moment the last byte of its answer was handed to
the socket (HTTP parsing of that last chunk, WebSocket framing and compression included;
see :mod:`agent.mockmodel.app`). The overhead therefore includes everything on our side:
building and sending the request, loopback transit both ways, parsing the stream,
committing items (history and session bookkeeping), and the MCP round trip to the no-op
tool over stdio, which is reported separately as well. Rollouts of 1, 10 and 100 turns on
each transport, on a warm connection (one warm-up rollout first), each repeated; medians
throughout. The mock's own CPU per request is reported too: on a 2-core machine it
competes with the client for a core, so it is kept small.

**Flatness**: within the 100-turn rollouts, the median overhead of turns 91–100 against
turns 1–10 (windows, because a single turn of a single run is mostly noise).

**Bytes uploaded** over a 50-turn rollout: HTTP request lines, headers and bodies; for the
WebSocket, the bytes written to the socket after the upgrade (frames after
permessage-deflate, pings included).

Targets (issue 8): at most 2 ms per turn; turn 100 at most 1.25x turn 1; over 50 turns the
WebSocket uploads at most 10% of the HTTP bytes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agent.approval import Approver, Policy
from agent.config import load_settings
from agent.hub import Hub
from agent.loop import Agent, AgentConfig, Observer
from agent.model import PRESETS, RetryPolicy, make_transport
from agent.model.providers import TransportChoice
from agent.model.request import History, Item
from agent.prompt import initial_context
from agent.session import Session
from bench._harness import REPO, Row, child_pid, record, verdict

NOOP_SERVER = REPO / "bench" / "_noop_server.py"
LENGTHS = {1: 40, 10: 7, 100: 5}
"""Rollout length (tool-calling turns) -> repetitions. A 1-turn rollout gives one sample, and a
first turn varies most (its median of 15 ranged 1.4-2.4 ms between runs), so it gets more."""
BYTES_TURNS = 50
TRANSPORTS: tuple[TransportChoice, ...] = ("http", "websocket")


def script(turns: int) -> dict[str, Any]:
    call = {"type": "function_call", "name": "noop__noop", "arguments": {}}
    return {"turns": [[call] for _ in range(turns)], "final": "Done."}


class MockProcess:
    """``toolwire mock-model`` in its own process, recording every request."""

    def __init__(self, directory: Path, turns: int) -> None:
        self.script = directory / f"script-{turns}.json"
        self.script.write_text(json.dumps(script(turns)))
        self.records_file = directory / f"records-{turns}.jsonl"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "agent.cli", "mock-model", "--port", "0",
                "--script", str(self.script), "--record", str(self.records_file),
            ],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"mock-model did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].split()[0]

    def records(self, at_least: int = 0) -> list[dict[str, Any]]:
        """The ``responses`` records so far, waiting (briefly) until there are
        ``at_least``: the mock writes a request's line just after the last byte of its
        answer, which the client may already have read."""
        deadline = time.monotonic() + 10
        while True:
            text = self.records_file.read_text() if self.records_file.exists() else ""
            found = [r for r in map(json.loads, text.splitlines()) if r["endpoint"] == "responses"]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.001)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Timing(Observer):
    def __init__(self) -> None:
        self.starts: list[float] = []
        self.tool_seconds: list[float] = []

    def turn_started(self, turn: int) -> None:
        self.starts.append(time.perf_counter())

    def tool_finished(self, call: Item, output: Item, is_error: bool, seconds: float) -> None:
        if is_error:
            raise RuntimeError(f"the no-op tool failed: {output}")
        self.tool_seconds.append(seconds)


@dataclass
class Rollouts:
    per_turn_ms: list[float] = field(default_factory=list)
    first_window_ms: list[float] = field(default_factory=list)
    last_window_ms: list[float] = field(default_factory=list)
    turn1_ms: list[float] = field(default_factory=list)
    turn100_ms: list[float] = field(default_factory=list)
    tool_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    without_tool_ms: list[float] = field(default_factory=list)
    """Overhead minus the no-op call's own round trip: the loop and the model transport."""
    cpu_ms: list[float] = field(default_factory=list)
    """CPU per turn: this process plus the no-op tool server (robust on a busy machine)."""
    mock_cpu_ms: list[float] = field(default_factory=list)
    """CPU of the mock model's process per request."""


@dataclass
class Upload:
    bytes: int = 0
    payload: int = 0
    requests: int = 0


async def one_rollout(
    hub: Hub, transport: Any, context: list[dict[str, Any]], observer: Observer
) -> tuple[Agent, float]:
    history = History(context)
    agent = Agent(
        transport=transport,
        tools=hub,
        history=history,
        context_count=len(context),
        config=AgentConfig(model="bench-model", prompt_cache_key=f"bench-{time.time_ns()}"),
        session=Session.create({}, ephemeral=True),
        approver=Approver(Policy.NEVER),
        observer=observer,
    )
    result = await agent.run("Call the no-op tool until the script ends.")
    end = time.perf_counter()
    if result.status != "completed":
        raise RuntimeError(f"rollout ended with {result.status}: {result.error}")
    return agent, end


async def measure(
    workspace: Path, cache: Path, mock: MockProcess, choice: TransportChoice, turns: int, reps: int
) -> Rollouts:
    settings = load_settings(
        workspace,
        user_config=None,
        entry_points=False,
        cache_dir=cache,
        overrides=[
            f"servers.noop.command={json.dumps(sys.executable)}",
            f"servers.noop.args={json.dumps([str(NOOP_SERVER)])}",
        ],
    )
    provider = PRESETS["openai"].with_overrides(base_url=mock.url, api_key_env="BENCH_NO_KEY")
    out = Rollouts()
    context = initial_context(workspace, sandbox="workspace-write", approval="never")
    async with Hub.start(settings, wait=True) as hub:
        transport = make_transport(
            provider, choice, retry=RetryPolicy(max_retries=0), skip_lifecycle=True
        )
        try:
            seen = len(mock.records()) + turns + 1
            await one_rollout(hub, transport, context, Timing())  # warm-up
            mock.records(at_least=seen)  # the warm-up's last line may still be on its way
            tool_pid = noop_pid()
            for _ in range(reps):
                timing = Timing()
                cpu = time.process_time() + cpu_seconds(tool_pid)
                mock_cpu = cpu_seconds(mock.proc.pid)
                _, end = await one_rollout(hub, transport, context, timing)
                cpu = time.process_time() + cpu_seconds(tool_pid) - cpu
                out.cpu_ms.append(cpu * 1000 / (turns + 1))
                records = mock.records(at_least=seen + turns + 1)[seen:]
                out.mock_cpu_ms.append((cpu_seconds(mock.proc.pid) - mock_cpu) * 1000 / (turns + 1))
                assert len(records) == turns + 1, (len(records), turns)
                seen += turns + 1
                bounds = [*timing.starts, end]
                overheads = []
                for index in range(turns):  # the tool-calling turns; the answer is extra
                    wall = bounds[index + 1] - bounds[index]
                    server = records[index]["server_ms"] / 1000
                    overheads.append(wall - server)
                    out.server_ms.append(records[index]["server_ms"])
                ms = [o * 1000 for o in overheads]
                out.per_turn_ms.extend(ms)
                out.without_tool_ms.extend(
                    m - t * 1000 for m, t in zip(ms, timing.tool_seconds, strict=False)
                )
                out.tool_ms.extend(s * 1000 for s in timing.tool_seconds)
                out.turn1_ms.append(ms[0])
                if turns >= 100:
                    out.first_window_ms.append(statistics.median(ms[:10]))
                    out.last_window_ms.append(statistics.median(ms[-10:]))
                    out.turn100_ms.append(ms[99])
        finally:
            await transport.aclose()
    return out


async def upload(
    workspace: Path, cache: Path, mock: MockProcess, choice: TransportChoice
) -> Upload:
    settings = load_settings(
        workspace,
        user_config=None,
        entry_points=False,
        cache_dir=cache,
        overrides=[
            f"servers.noop.command={json.dumps(sys.executable)}",
            f"servers.noop.args={json.dumps([str(NOOP_SERVER)])}",
        ],
    )
    provider = PRESETS["openai"].with_overrides(base_url=mock.url, api_key_env="BENCH_NO_KEY")
    context = initial_context(workspace, sandbox="workspace-write", approval="never")
    result = Upload()
    async with Hub.start(settings, wait=True) as hub:
        transport = make_transport(
            provider, choice, retry=RetryPolicy(max_retries=0), skip_lifecycle=True
        )
        try:
            await one_rollout(hub, transport, context, Timing())
        finally:
            await transport.aclose()
        result.bytes = transport.stats.wire_bytes_sent
        result.payload = transport.stats.bytes_sent
        result.requests = transport.stats.requests
    return result


def noop_pid() -> int:
    return child_pid(b"_noop_server.py")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fmt_ms(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ms"


async def main() -> None:
    rows: list[Row] = []
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="toolwire-bench-loop-") as tmp:
        base = Path(tmp)
        workspace = base / "ws"
        workspace.mkdir()
        cache = base / "cache"
        for turns, reps in LENGTHS.items():
            mock = MockProcess(base, turns)
            try:
                for choice in TRANSPORTS:
                    result = await measure(workspace, cache, mock, choice, turns, reps)
                    summary[f"{choice}-{turns}"] = result
                    print(
                        f"{choice:9} {turns:3} turns x{reps}: overhead "
                        f"{fmt_ms(result.per_turn_ms)}/turn (tool call {fmt_ms(result.tool_ms)},"
                        f" server {statistics.median(result.server_ms):.2f} ms)",
                        flush=True,
                    )
            finally:
                mock.close()
        mock = MockProcess(base, BYTES_TURNS)
        try:
            uploads = {
                choice: await upload(workspace, cache, mock, choice) for choice in TRANSPORTS
            }
        finally:
            mock.close()

    for choice in TRANSPORTS:
        label = "HTTP" if choice == "http" else "WebSocket"
        for turns in LENGTHS:
            result = summary[f"{choice}-{turns}"]
            value = statistics.median(result.per_turn_ms)
            rows.append(
                Row(
                    f"{label}: client overhead per turn, {turns}-turn rollouts "
                    f"(x{LENGTHS[turns]}, p90 {percentile(result.per_turn_ms, 90):.2f} ms)",
                    f"{value:.2f} ms",
                    "≤ 2 ms",
                    verdict(value, 2.0, " ms"),
                )
            )
        long = summary[f"{choice}-100"]
        first = statistics.median(long.first_window_ms)
        last = statistics.median(long.last_window_ms)
        rows.append(
            Row(
                f"{label}: turns 91–100 vs turns 1–10 of a 100-turn rollout "
                f"({last:.2f} vs {first:.2f} ms; single turns 100 vs 1: "
                f"{statistics.median(long.turn100_ms):.2f} vs "
                f"{statistics.median(long.turn1_ms):.2f} ms)",
                f"{last / first:.2f}x",
                "≤ 1.25x",
                verdict(last / first, 1.25, "x"),
            )
        )
        rows.append(
            Row(
                f"{label}: of which the no-op tool call over stdio (MCP round trip)",
                fmt_ms(long.tool_ms),
            )
        )
        rows.append(
            Row(
                f"{label}: overhead per turn without the tool call (loop + transport; "
                "100-turn rollouts)",
                fmt_ms(long.without_tool_ms),
            )
        )
        rows.append(
            Row(
                f"{label}: CPU per turn, agent process + no-op server (100-turn rollouts; "
                "less sensitive to other load than wall time)",
                fmt_ms(long.cpu_ms),
            )
        )
        rows.append(
            Row(
                f"{label}: CPU per request of the mock model's process (100-turn rollouts; "
                "it shares the 2 cores with the client)",
                fmt_ms(long.mock_cpu_ms),
            )
        )
    http, ws = uploads["http"], uploads["websocket"]
    ratio = ws.bytes / http.bytes
    rows.append(
        Row(
            f"HTTP: bytes uploaded, {BYTES_TURNS}-turn rollout ({http.requests} requests, "
            "request lines + headers + bodies)",
            f"{http.bytes / 1024:.0f} KiB",
        )
    )
    rows.append(
        Row(
            f"WebSocket: bytes uploaded, {BYTES_TURNS}-turn rollout (frames on the wire; "
            f"{ws.payload / 1024:.0f} KiB before permessage-deflate)",
            f"{ws.bytes / 1024:.1f} KiB",
        )
    )
    rows.append(Row("WebSocket bytes / HTTP bytes", f"{ratio:.1%}", "≤ 10%", verdict(ratio, 0.10)))
    record("loop", "Agent loop: client overhead per turn and bytes per rollout", rows)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    os.environ.pop("BENCH_NO_KEY", None)
    anyio.run(main)
