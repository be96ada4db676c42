"""The stdio transport: a no-op ``tools/call`` round trip, the SDK's transport against ours.

The same no-op server (``bench/_noop_server.py``) runs through ``run_server`` (our thread-free
transport, :mod:`servers.common.stdio`) and through the SDK's ``MCPServer.run_stdio_async``
(``anyio.wrap_file``: a worker-thread hop per line read and per write and flush), each in both
protocol eras: the 2025 ``initialize`` handshake, and 2026-07-28, where every request carries
its ``_meta`` envelope and our transport serves ``tools/call`` on its
:class:`~servers.common.fastcall.ToolCallLane`. A minimal blocking JSON-RPC client in this
process writes one request line and reads one response line, so its own cost is small and the
same for all. Rounds alternate between the servers so machine noise hits them alike.

Figures: the round trip's median, and the server's CPU time per call (utime + stime from
``/proc/<pid>/stat`` across all measured calls), which a busy shared machine disturbs far less
than wall time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from bench._harness import REPO, Row, record

ROUNDS = 20
CALLS_PER_ROUND = 250
WARMUP_CALLS = 300

NOOP_SERVER = REPO / "bench" / "_noop_server.py"
SDK_SERVER = (
    "import anyio; from bench._noop_server import create_server; "
    "anyio.run(create_server().run_stdio_async)"
)
CALL = {"name": "noop", "arguments": {}}
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
"""The 2026-07-28 per-request ``_meta`` envelope, as the SDK's client stamps it."""


class RawClient:
    """Just enough MCP over a child's pipes: open the connection in one era, then ``tools/call``."""

    def __init__(self, command: list[str], *, modern: bool) -> None:
        self.process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        self._next_id = 0
        if modern:  # the first request opens the era: discovery with the envelope
            self.call = {**CALL, "_meta": ENVELOPE}
            self.request("server/discover", {"_meta": ENVELOPE})
            return
        self.call = CALL
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        self._in.write(json.dumps(message).encode() + b"\n")
        self._in.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        reply: dict[str, Any] = json.loads(self._out.readline())
        if reply.get("id") != self._next_id or "result" not in reply:
            raise RuntimeError(f"unexpected reply to {method}: {reply}")
        return reply

    def timed_calls(self, count: int) -> list[float]:
        times = []
        for _ in range(count):
            began = time.perf_counter()
            self.request("tools/call", self.call)
            times.append(time.perf_counter() - began)
        return times

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> int:
        self._in.close()
        return self.process.wait(10)


LANE_OFF_SERVER = (
    "from servers.common.fastcall import ToolCallLane; "
    "ToolCallLane.take = lambda self, line: False; "
    "from bench._noop_server import main; main()"
)
SERVERS = {
    "SDK run_stdio_async": [sys.executable, "-c", SDK_SERVER],
    "toolwire (servers.common.stdio)": [sys.executable, str(NOOP_SERVER)],
}
ERAS = {"handshake era": False, "2026-07-28 era": True}
LANE_OFF = "toolwire without its ToolCallLane, 2026-07-28 era"


def measure() -> list[Row]:
    clients = {
        f"{server}, {era}": RawClient(command, modern=modern)
        for era, modern in ERAS.items()
        for server, command in SERVERS.items()
    }
    clients[LANE_OFF] = RawClient([sys.executable, "-c", LANE_OFF_SERVER], modern=True)
    times: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
    try:
        for client in clients.values():
            client.timed_calls(WARMUP_CALLS)
        for _ in range(ROUNDS):
            for name, client in clients.items():
                before = client.cpu_seconds()
                times[name] += client.timed_calls(CALLS_PER_ROUND)
                cpu[name] += client.cpu_seconds() - before
    finally:
        codes = {name: client.close() for name, client in clients.items()}
    if any(codes.values()):
        raise RuntimeError(f"a server exited with an error: {codes}")
    calls = ROUNDS * CALLS_PER_ROUND
    rows = []
    for name in clients:
        rows.append(
            Row(
                f"{name}: no-op tools/call round trip, p50 of {calls}",
                f"{statistics.median(times[name]) * 1e6:.0f} µs",
            )
        )
        rows.append(Row(f"{name}: server CPU per call", f"{cpu[name] / calls * 1e6:.0f} µs"))
    for era in ERAS:
        sdk, ours = (cpu[f"{server}, {era}"] for server in SERVERS)
        rows.append(Row(f"{era}: server CPU per call, SDK / toolwire", f"{sdk / ours:.2f}x"))
    lane_on = cpu[f"{next(reversed(SERVERS))}, 2026-07-28 era"]
    rows.append(
        Row("2026-07-28 era: server CPU per call, lane off / on", f"{cpu[LANE_OFF] / lane_on:.2f}x")
    )
    return rows


def main() -> None:
    record("stdio", "stdio transport: no-op tools/call, the SDK's transport vs ours", measure())


if __name__ == "__main__":
    main()
