"""Fixtures for tests that drive our servers with other people's MCP tools (Node.js)."""

from __future__ import annotations

import anyio
import pytest

from agent.testing.node import (
    INSPECTOR,
    NodeRuntime,
    NodeUnavailableError,
    ensure_package,
    find_node,
)


@pytest.fixture(scope="session")
def inspector_node() -> NodeRuntime:
    """Node >= 22.19 with the pinned Inspector in the npm cache, or skip saying what is missing."""
    try:
        runtime = find_node()
        anyio.run(ensure_package, runtime, INSPECTOR, ["--cli", "--version"])
    except NodeUnavailableError as exc:
        pytest.skip(f"MCP Inspector CLI unavailable: {exc}")
    return runtime
