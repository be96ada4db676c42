"""The client the MCP conformance suite drives: toolwire's hub, configured with one server.

``npx @modelcontextprotocol/conformance client --command "python -m
tests.interop.conformance_client" --scenario NAME`` starts a test server, appends its URL to our
command and names the scenario in ``MCP_CONFORMANCE_SCENARIO``. We load settings through the
hub's own config code (a ``servers.conformance.url`` override, as ``toolwire -c`` would), start
the hub, and do what the scenario asks through ``Hub.call`` (the path every model call takes).
Exit 0 when the hub did its part; the suite judges the protocol from what it saw on the wire.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import anyio

from agent.config import load_settings
from agent.hub import Hub

SERVER = "conformance"

# scenario -> (tool to call, its arguments); "initialize" only connects and lists tools.
CALLS: dict[str, tuple[str, dict[str, object]] | None] = {
    "initialize": None,
    "tools_call": ("add_numbers", {"a": 2, "b": 3}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
    "sse-retry": ("test_reconnection", {}),
}


async def run(url: str, scenario: str, scratch: Path) -> int:
    if scenario not in CALLS:
        print(f"scenario {scenario!r} is not one this client takes part in", file=sys.stderr)
        return 2
    settings = load_settings(
        scratch,
        user_config=None,
        bundled=(),
        entry_points=False,
        cache_dir=scratch / "cache",
        overrides=[
            f"servers.{SERVER}.url={json.dumps(url)}",
            f"servers.{SERVER}.required=true",
            "hub.schema_cache=false",
        ],
    )
    async with Hub.start(settings, wait=True) as hub:
        status = {s.name: s for s in hub.servers}[SERVER]
        print(f"{SERVER}: {status.status} protocol={status.protocol}", file=sys.stderr)
        call = CALLS[scenario]
        if call is None:
            return 0 if status.status == "ready" else 1
        tool, arguments = call
        entry = next((e for e in hub.entries if e.original == tool), None)
        if entry is None:
            print(f"{tool} not among {[e.original for e in hub.entries]}", file=sys.stderr)
            return 1
        outcome = await hub.call_detailed(entry.name, json.dumps(arguments), "call_1")
        print(json.dumps(outcome.item), file=sys.stderr)
        return 1 if outcome.is_error else 0


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m tests.interop.conformance_client SERVER_URL", file=sys.stderr)
        return 2
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    with tempfile.TemporaryDirectory(prefix="toolwire-conformance-") as scratch:
        return anyio.run(run, sys.argv[1], scenario, Path(scratch))


if __name__ == "__main__":
    sys.exit(main())
