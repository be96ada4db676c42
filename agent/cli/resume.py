"""``toolwire resume [ID | --last] [MESSAGE]``: continue a saved session.

The history is replayed from the session file (nothing already received is lost, even if
the process was killed) and repaired where an abrupt end left it invalid. A session that
stopped mid-turn continues that turn; with MESSAGE the agent works on it next; otherwise,
at a terminal, it continues as ``toolwire chat``. Provider, model and transport default to
the session's own.
"""

from __future__ import annotations

import argparse

from agent.cli.run import Plan, add_common_arguments, execute


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", help="session id (or a unique prefix)")
    parser.add_argument("message", nargs="*", help="a message to continue with")
    parser.add_argument(
        "--last", action="store_true", help="the most recent session (this directory's first)"
    )
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ident = args.id
    words = list(args.message)
    if args.last and ident is not None:
        words.insert(0, ident)  # with --last, the first word is part of the message
        ident = None
    if ident is None and not args.last:
        args.last = True
    message = " ".join(words).strip() or None
    return execute(args, Plan(kind="resume", task=message, resume_id=ident, resume_last=True))
