"""The plan server: ``update_plan`` and ``get_plan``, and ``plan://current`` as a resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from schemas.plan import PlanState, PlanStep
from servers.common.annotations import read_only, state_change
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.subscriptions import ResourceSubscriptions
from servers.common.workspace import Workspace
from servers.plan.planning import PlanError, render_plan, validate_plan
from servers.plan.store import default_state_file, load_state, save_state

PLAN_URI = "plan://current"


@dataclass(frozen=True, slots=True)
class PlanSettings:
    workspace: Workspace
    state_file: Path | None = None

    def resolved_state_file(self) -> Path:
        return self.state_file or default_state_file(self.workspace.root)


def create_server(settings: PlanSettings) -> MCPServer[Any]:
    state_file = settings.resolved_state_file()
    subs = ResourceSubscriptions()
    server = new_server(
        "plan",
        "Keep a short step-by-step plan for the task and update it as steps are done.",
        subscriptions=subs.bus,
    )
    subs.install(server)
    lock = anyio.Lock()

    @server.tool(annotations=state_change("Update plan", destructive=False, idempotent=True))
    async def update_plan(
        plan: Annotated[
            list[PlanStep],
            Field(description="the whole plan, in order; at most one step in_progress"),
        ],
        explanation: Annotated[
            str | None, Field(description="optional note on why the plan changed")
        ] = None,
    ) -> Annotated[CallToolResult, PlanState]:
        """Replace the task plan. Send every step each time with its status (pending,
        in_progress, completed); keep exactly one step in_progress while working."""
        try:
            steps = validate_plan(plan)
        except PlanError as exc:
            raise ToolError(str(exc)) from exc
        state = PlanState(
            explanation=explanation, plan=steps, updated_at=datetime.now(UTC).isoformat()
        )
        async with lock:
            try:
                await anyio.to_thread.run_sync(save_state, state_file, state)
            except OSError as exc:
                raise ToolError(f"could not save the plan to {state_file}: {exc}") from exc
        await subs.publish(PLAN_URI)
        return tool_result(state, "Plan updated.\n" + render_plan(explanation, steps))

    @server.tool(annotations=read_only("Get plan"))
    async def get_plan() -> Annotated[CallToolResult, PlanState]:
        """Return the current plan (empty if none has been made yet)."""
        state = await anyio.to_thread.run_sync(load_state, state_file)
        return tool_result(state, render_plan(state.explanation, state.plan))

    @server.resource(PLAN_URI, name="plan", mime_type="application/json")
    async def current_plan() -> str:
        """The current plan as JSON; subscribe to be told of every update."""
        state = await anyio.to_thread.run_sync(load_state, state_file)
        return state.model_dump_json(indent=2)

    return server
