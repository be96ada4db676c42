"""Drive the MCP Inspector's command line against a server, the way a reviewer would by hand.

``tools/list`` with ``--strict`` lints every tool's input and output schema for portability
(a bare ``true`` schema, ``type`` arrays, untyped or remote ``$ref`` schemas) and exits 6 on an
error-severity finding; ``tools/call`` validates ``structuredContent`` against the tool's
``outputSchema`` and exits 5 when the tool answered ``isError``. ``--strict`` is accepted only
with ``tools/list`` (Inspector 2.12 refuses it elsewhere), so a server "passes strict mode" when
its ``tools/list --strict`` reports no finding and a real ``tools/call`` exits 0.

    run = await run_inspector(["toolwire-files", "--root", "."], "tools/list", strict=True)
    assert run.ok and not run.findings, run.explain()
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.testing.node import (
    INSPECTOR,
    NodeRuntime,
    NodeUnavailableError,
    find_node,
    package_bin,
    run_bounded,
)

Era = Literal["legacy", "auto", "modern"]


@dataclass(frozen=True, slots=True)
class InspectorRun:
    """One Inspector CLI invocation: its argv, exit code and output (``--format json``)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    envelope: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def result(self) -> dict[str, Any]:
        """The MCP result (``tools/list`` or ``tools/call``) the Inspector received."""
        value = self.envelope.get("result", {})
        return value if isinstance(value, dict) else {}

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Schema portability findings (with ``--strict``): one entry per tool that has any."""
        value = self.envelope.get("schemaFindings", [])
        return value if isinstance(value, list) else []

    @property
    def error(self) -> dict[str, Any]:
        """The Inspector's own error object (``{"code", "message"}``) when it failed."""
        for line in reversed(self.stderr.strip().splitlines()):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            error = parsed.get("error") if isinstance(parsed, dict) else None
            if isinstance(error, dict):
                return error
        return {}

    def explain(self) -> str:
        """Everything needed to understand a failure, for an assertion message."""
        return (
            f"inspector exited {self.returncode}\n  argv: {' '.join(self.argv)}\n"
            f"  findings: {json.dumps(self.findings)}\n  stderr: {self.stderr.strip()[-2000:]}\n"
            f"  stdout: {self.stdout.strip()[:2000]}"
        )


def inspector_argv(
    runtime: NodeRuntime,
    target: Sequence[str] | str,
    method: str,
    *,
    tool: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    strict: bool = False,
    era: Era = "legacy",
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    package: str = INSPECTOR,
    launcher: Path | None = None,
) -> list[str]:
    """The command line; ``target`` is a server command (stdio) or an ``http(s)://…/mcp`` URL.
    With ``launcher`` (the package's installed ``mcp-inspector``), npx is not involved."""
    if launcher is not None:
        argv = [str(runtime.node), str(launcher), "--cli"]
    else:
        argv = runtime.npx_command(package, "--cli")
    if isinstance(target, str):
        argv += ["--transport", "http", "--server-url", target]
        for name, value in (headers or {}).items():
            argv += ["--header", f"{name}: {value}"]
    else:
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        if cwd is not None:
            argv += ["--cwd", str(cwd)]
        argv += list(target)
    argv += ["--method", method, "--format", "json", "--protocol-era", era]
    if tool is not None:
        argv += ["--tool-name", tool, "--tool-args-json", json.dumps(dict(arguments or {}))]
    if strict:
        argv.append("--strict")
    return argv


async def run_inspector(
    target: Sequence[str] | str,
    method: str,
    *,
    tool: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    strict: bool = False,
    era: Era = "legacy",
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    runtime: NodeRuntime | None = None,
    time_limit: float = 120,
) -> InspectorRun:
    """Run the Inspector CLI once (bounded by ``time_limit``) and parse its JSON output.

    Raises :class:`agent.testing.node.NodeUnavailableError` when no Node >= 22.19 is found.
    """
    node = runtime or find_node()
    try:
        launcher: Path | None = await package_bin(node, INSPECTOR, "mcp-inspector")
    except NodeUnavailableError:
        launcher = None  # let npx try (and report) by itself
    argv = inspector_argv(
        node,
        target,
        method,
        tool=tool,
        arguments=arguments,
        strict=strict,
        era=era,
        headers=headers,
        env=env,
        cwd=cwd,
        launcher=launcher,
    )
    done = await run_bounded(argv, env=node.env(), time_limit=time_limit)
    stdout, stderr = done.stdout, done.stderr
    if done.timed_out:
        stderr += f"\n[stopped after {time_limit:.0f}s]"
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        parsed = {}
    if isinstance(parsed, dict):
        envelope = parsed
    return InspectorRun(argv, done.returncode, stdout, stderr, envelope)


__all__ = ["Era", "InspectorRun", "inspector_argv", "run_inspector"]
