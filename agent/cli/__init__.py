"""The ``toolwire`` command line: a thin dispatcher over one module per subcommand.

Adding a subcommand is one line in :data:`COMMANDS` plus a module that defines::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...   # the exit code

Only the chosen subcommand's module is imported, so ``toolwire --help`` and a light command
such as ``toolwire mock-model`` never pay for importing the MCP SDK (about half a second).
The subcommand is the first argument that does not start with ``-``; top-level options
therefore must not take values.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("run", "agent.cli.run", "run the agent on a task until it is done"),
    Command("chat", "agent.cli.chat", "talk with the agent, one message at a time"),
    Command("resume", "agent.cli.resume", "continue a saved session (an id, or --last)"),
    Command("demo", "agent.cli.demo", "watch the agent fix a failing test (scripted model)"),
    Command(
        "mock-model",
        "agent.cli.mock_model",
        "serve a scripted Responses API model (HTTP+SSE and WebSocket) for tests and demos",
    ),
    Command("tools", "agent.cli.tools", "list the merged tools the model sees, and their origin"),
    Command("servers", "agent.cli.servers", "start every tool server and show how each one did"),
    Command("call", "agent.cli.call", "call one tool of any configured server, by hand"),
    Command("dev", "agent.cli.dev", "run a server under development, restarting on changes"),
    Command("new-server", "agent.cli.new_server", "write a ready-to-run tool server package"),
    Command("schemas", "agent.cli.schemas", "check or write a server's tool schema snapshots"),
)


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolwire",
        description="MCP tool servers and a small, fast agent core for coding agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.name == chosen:
            module = importlib.import_module(command.module)
            cast(Callable[[argparse.ArgumentParser], None], module.add_arguments)(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((arg for arg in args_list if not arg.startswith("-")), None)
    args = build_parser(chosen).parse_args(args_list)
    run = cast(Callable[[argparse.Namespace], int], args._run)
    return int(run(args))
