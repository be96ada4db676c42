"""``toolwire new-server NAME``: write a ready-to-run tool server package (see agent.scaffold)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="server name, e.g. weather-tools (package weather_tools)")
    parser.add_argument(
        "--dir", type=Path, default=Path(), help="where to create NAME/ (default: here)"
    )
    parser.add_argument("--force", action="store_true", help="write into an existing directory")


def run(args: argparse.Namespace) -> int:
    from agent.scaffold import Names, ScaffoldError, write_project

    try:
        root = write_project(args.name, args.dir, force=args.force)
    except ScaffoldError as exc:
        print(f"toolwire new-server: {exc}", file=sys.stderr)
        return 2
    names = Names.of(args.name)
    print(f"created {root}/ (package {names.package}, tool word_count)")
    print("next:")
    print(f"  pip install -e '{root}[test]'   # into the environment where toolwire is installed")
    print(f"  pytest {root}                   # passes as generated")
    print(f"  toolwire dev {root / names.package}   # serve it, restarting on every save")
    return 0
