"""``python -m agent.hub.entry module:attribute``: serve an entry-point server over stdio.

A package offers a server to toolwire by declaring, in its ``pyproject.toml``::

    [project.entry-points."toolwire.servers"]
    weather = "weather_tools:create_server"

where ``create_server()`` returns an ``MCPServer`` (an ``MCPServer`` object works too). The
hub runs it in its own process through this launcher, so a slow or crashing plugin cannot
block or take down the agent; ``transport = "inprocess"`` runs it inside the agent instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import anyio

from agent.hub.spec import UnavailableError, load_factory
from servers.common.stdio import MessageTooLargeError, serve_stdio


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or ":" not in args[0]:
        print("usage: python -m agent.hub.entry module:attribute [ARGS...]", file=sys.stderr)
        return 2
    sys.argv = [args[0], *args[1:]]  # the server's own arguments (config ``args``), if any
    try:
        server = load_factory(args[0])()
    except (ImportError, AttributeError, UnavailableError) as exc:
        print(f"cannot load toolwire server {args[0]}: {exc}", file=sys.stderr)
        return 1
    try:
        anyio.run(serve_stdio, server)
    except KeyboardInterrupt:
        pass
    except MessageTooLargeError as exc:
        print(f"toolwire server {args[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
