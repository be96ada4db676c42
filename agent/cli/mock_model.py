"""``toolwire mock-model``: run the scripted Responses API server as a process.

For CI jobs and demos that drive an agent (ours or another Responses API client) against a
predictable model. Once the port is listening it prints one line to stdout::

    toolwire mock-model: listening on http://127.0.0.1:8787/v1 (WebSocket ws://127.0.0.1:8787/v1/responses)

so a script can wait for it (and learn the port when ``--port 0`` picked a free one). It
serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from agent.mockmodel.faults import Fault
from agent.mockmodel.latency import LatencyModel
from agent.mockmodel.scripts import Script
from agent.mockmodel.server import MockModelServer

DEFAULT_PORT = 8787

_LATENCY_FLAGS = {
    "overhead_ms": "fixed cost per request",
    "ttft_ms": "time to first output token",
    "tokens_per_second": "output speed (0 = unlimited)",
    "per_input_kb_ms": "prefill cost per KiB of uncached prompt",
    "tokens_per_delta": "tokens per text/arguments delta event",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port, 0 = any free (default {DEFAULT_PORT})",
    )
    parser.add_argument("--script", type=Path, help="script file (.json or .toml)")
    parser.add_argument("--record", type=Path, help="append a JSON line per request to FILE")
    parser.add_argument(
        "--record-bodies", action="store_true", help="include each request body in --record"
    )
    latency = parser.add_argument_group("latency (overrides the script's [latency] table)")
    for name, text in _LATENCY_FLAGS.items():
        kind = int if name == "tokens_per_delta" else float
        latency.add_argument(f"--{name.replace('_', '-')}", type=kind, help=text)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:k=v,...]",
        help="queue a fault, e.g. rate_limit:retry_after=2 or drop:after_events=5 "
        "(kinds: rate_limit, server_error, drop, ws_close, connection_limit, slow)",
    )
    parser.add_argument(
        "--no-websocket", action="store_true", help="refuse WebSocket upgrades with HTTP 426"
    )
    parser.add_argument(
        "--ws-max-age",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="WebSocket lifetime before websocket_connection_limit_reached (default 3600)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def run(args: argparse.Namespace) -> int:
    try:
        script = Script.load(args.script) if args.script else Script()
        faults = [Fault.parse_spec(spec) for spec in args.fault]
        overrides = {
            name: getattr(args, name) for name in _LATENCY_FLAGS if getattr(args, name) is not None
        }
        base = script.latency or LatencyModel()
        latency = LatencyModel.model_validate({**base.model_dump(), **overrides})
    except (OSError, ValueError, ValidationError) as exc:
        print(f"toolwire mock-model: {exc}", file=sys.stderr)
        return 2

    server = MockModelServer(
        script,
        host=args.host,
        port=args.port,
        latency=latency,
        faults=faults,
        record=args.record,
        record_bodies=args.record_bodies,
        keep_bodies=False,  # nobody can read them in memory here; --record-bodies writes them
        websocket=not args.no_websocket,
        ws_max_age=args.ws_max_age,
        log_level=args.log_level,
    )

    def ready() -> None:
        websocket = f" (WebSocket {server.ws_url})" if not args.no_websocket else ""
        print(f"toolwire mock-model: listening on {server.url}{websocket}", flush=True)

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        print(f"toolwire mock-model: {exc}", file=sys.stderr)
        return 1
    return 0
