"""What ``toolwire tools`` and ``toolwire servers`` share: options, settings, a started hub."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable

import anyio

from agent.cli._config import add_config_options, settings_from_args
from agent.config import ConfigError, Settings
from agent.hub import Hub, HubStartError

EXIT_OK = 0
EXIT_SERVER_FAILED = 1
"""Some enabled server failed to start (or a required one did)."""
EXIT_CONFIG = 2
"""The configuration could not be read."""


def add_hub_options(parser: argparse.ArgumentParser) -> None:
    add_config_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")


def load(args: argparse.Namespace) -> Settings | None:
    """Settings from the command line, or None after printing why they could not be read."""
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"toolwire: {exc}", file=sys.stderr)
        return None
    for warning in settings.warnings:
        print(f"toolwire: warning: {warning}", file=sys.stderr)
    return settings


def with_hub(settings: Settings, body: Callable[[Hub], Awaitable[int]]) -> int:
    """Start every server, wait for all of them, run ``body``; its result is the exit code."""

    async def main() -> int:
        try:
            async with Hub.start(settings, wait=True) as hub:
                return await body(hub)
        except HubStartError as exc:
            print(f"toolwire: {exc}", file=sys.stderr)
            return EXIT_SERVER_FAILED

    try:
        return anyio.run(main)
    except BrokenPipeError:  # `toolwire tools --json | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
