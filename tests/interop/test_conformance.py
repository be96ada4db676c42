"""The hub's MCP client against the official conformance suite's client scenarios.

Runs only under ``make conformance`` (``TOOLWIRE_CONFORMANCE=1``), which ``.ci/run`` also calls:
it downloads ``@modelcontextprotocol/conformance`` on first use and each scenario starts a Node
test server, so it stays out of the default ``make test``. For every scenario the suite runs
``python -m tests.interop.conformance_client URL`` (the hub, see that module) against its own
server, then judges the traffic; a scenario passes when the suite exits 0 and reports no
FAILURE check. WARNING checks (e.g. a reconnect slightly late on a loaded machine) are printed,
not failed, as the suite itself does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.testing.node import (
    CONFORMANCE,
    NodeRuntime,
    NodeUnavailableError,
    ensure_package,
    find_node,
    run_bounded,
)
from tests.interop.conformance_client import CALLS
from tests.support import REPO

ENABLED = os.environ.get("TOOLWIRE_CONFORMANCE") == "1"

pytestmark = [
    pytest.mark.skipif(
        not ENABLED, reason="network-dependent MCP conformance suite: run `make conformance`"
    ),
    pytest.mark.timeout(300),
]

SCENARIOS = sorted(CALLS)
"""initialize, tools_call, elicitation-sep1034-client-defaults, sse-retry: the client scenarios
that apply to an MCP client without OAuth (the suite's auth/* scenarios test OAuth flows)."""


@pytest.fixture(scope="module")
def conformance_node() -> NodeRuntime:
    try:
        runtime = find_node()
        anyio.run(ensure_package, runtime, CONFORMANCE, ["--version"])
    except NodeUnavailableError as exc:
        pytest.skip(f"MCP conformance suite unavailable: {exc}")
    return runtime


def test_every_client_scenario_is_listed(conformance_node: NodeRuntime) -> None:
    """The suite still has every scenario we run (a renamed one must not pass by vanishing)."""

    async def listing() -> str:
        done = await run_bounded(
            conformance_node.npx_command(CONFORMANCE, "list"),
            env=conformance_node.env(),
            time_limit=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = anyio.run(listing)
    for scenario in SCENARIOS:
        assert f"- {scenario} " in listed, listed


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_client_scenario(scenario: str, tmp_path: Path, conformance_node: NodeRuntime) -> None:
    command = f"{sys.executable} -m tests.interop.conformance_client"
    argv = conformance_node.npx_command(
        CONFORMANCE,
        "client",
        "--command",
        command,
        "--scenario",
        scenario,
        "--timeout",
        "60000",
        "-o",
        str(tmp_path),
    )
    done = anyio.run(_run, argv, conformance_node)
    checks = _checks(tmp_path)
    failed = [c for c in checks if c.get("status") == "FAILURE"]
    warned = [c for c in checks if c.get("status") == "WARNING"]
    judged = [c for c in checks if c.get("status") in ("SUCCESS", "FAILURE", "WARNING")]
    for check in warned:
        print(f"WARNING {check.get('id')}: {check.get('errorMessage')}")
    client_log = "\n".join(p.read_text() for p in tmp_path.rglob("stderr.txt"))
    report = f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}\nclient stderr:\n{client_log}"
    assert judged, f"the suite judged nothing:\n{report}"
    assert not failed, (
        "\n".join(f"{c.get('id')}: {c.get('errorMessage') or c.get('details')}" for c in failed)
        + f"\n{report}"
    )
    assert done.returncode == 0, report


async def _run(argv: list[str], node: NodeRuntime) -> Any:
    return await run_bounded(argv, env=node.env(), cwd=REPO, time_limit=180)


def _checks(results: Path) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for path in sorted(results.rglob("checks.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        checks.extend(c for c in loaded if isinstance(c, dict))
    return checks
