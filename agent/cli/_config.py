"""The configuration options every hub-using subcommand takes, and the settings they ask for."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import Settings


def add_config_options(parser: argparse.ArgumentParser, example: str | None = None) -> None:
    """``--workspace/-C``, ``-c KEY=VALUE`` (repeatable) and ``--no-user-config``."""
    parser.add_argument(
        "--workspace",
        "-C",
        type=Path,
        default=None,
        help="project directory: where toolwire.toml and .mcp.json are read (default: .)",
    )
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (value in TOML syntax), e.g. "
        + (example or "-c servers.shell.enabled=false"),
    )
    parser.add_argument(
        "--no-user-config", action="store_true", help="ignore the user's config.toml"
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings as the options above ask; raises ``agent.config.ConfigError``."""
    from agent.config import load_settings

    if args.no_user_config:
        return load_settings(args.workspace, overrides=tuple(args.config), user_config=None)
    return load_settings(args.workspace, overrides=tuple(args.config))
