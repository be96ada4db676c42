"""``toolwire chat``: a conversation with the agent, one message at a time, in one session.

The same options as ``toolwire run``; each line you type is a user message and the agent
works on it until it answers. End with Ctrl-D (exit 0); Ctrl-C interrupts (exit 130).
"""

from __future__ import annotations

import argparse

from agent.cli.run import Plan, add_common_arguments, execute


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", nargs="*", help="an optional first message")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    first = " ".join(args.message).strip() or None
    return execute(args, Plan(kind="chat", task=first))
