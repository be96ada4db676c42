"""The plan server through a real MCP client, in both protocol eras."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextResourceContents

from servers.common.workspace import Workspace
from servers.plan import PlanSettings, create_server
from servers.plan.server import PLAN_URI
from tests.support import MODES, ResourceUpdates, text_of

pytestmark = pytest.mark.anyio

PLAN = [
    {"step": "Read the failing test", "status": "completed"},
    {"step": "Fix the parser", "status": "in_progress"},
    {"step": "Run the suite", "status": "pending"},
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path) -> PlanSettings:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return PlanSettings(
        workspace=Workspace.from_paths([workspace]), state_file=tmp_path / "state" / "plan.json"
    )


@asynccontextmanager
async def connect(mode: str, settings: PlanSettings, **kwargs: Any) -> AsyncIterator[Client]:
    async with Client(create_server(settings), mode=mode, **kwargs) as client:
        yield client


async def test_tools_are_listed_with_annotations_and_schemas(
    mode: str, settings: PlanSettings
) -> None:
    async with connect(mode, settings) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"update_plan", "get_plan"}
    update, get = tools["update_plan"], tools["get_plan"]
    assert update.annotations is not None and get.annotations is not None
    assert update.annotations.read_only_hint is False
    assert update.annotations.destructive_hint is False
    assert update.annotations.idempotent_hint is True
    assert get.annotations.read_only_hint is True
    assert update.input_schema["required"] == ["plan"]
    step_schema = json.dumps(update.input_schema)
    assert '"in_progress"' in step_schema and '"pending"' in step_schema
    for tool in tools.values():
        assert tool.description
        assert tool.output_schema is not None
        assert {"plan", "explanation"} <= set(tool.output_schema["properties"])


async def test_update_then_get(mode: str, settings: PlanSettings) -> None:
    async with connect(mode, settings) as client:
        empty = await client.call_tool("get_plan", {})
        assert not empty.is_error and text_of(empty) == "(no plan)"
        assert empty.structured_content is not None and empty.structured_content["plan"] == []

        result = await client.call_tool("update_plan", {"plan": PLAN, "explanation": "Found it"})
        assert not result.is_error
        assert text_of(result) == (
            "Plan updated.\nPlan (1/3 done)\nFound it\n"
            "[x] 1. Read the failing test\n[~] 2. Fix the parser\n[ ] 3. Run the suite"
        )
        got = await client.call_tool("get_plan", {})
    data = got.structured_content
    assert data is not None
    assert data["plan"] == PLAN and data["explanation"] == "Found it"
    assert data["updated_at"]
    assert "[~] 2. Fix the parser" in text_of(got)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            [PLAN[1], {"step": "Also this", "status": "in_progress"}],
            "steps 1 ('Fix the parser'), 2 ('Also this') are all in_progress",
        ),
        ([PLAN[0], {"step": "", "status": "pending"}], "step 2 has no text"),
        # Status values are checked against the schema's enum before our code runs; the
        # message still names the step (0-indexed path) and the allowed values.
        ([PLAN[0], {"step": "Ship", "status": "done"}], "plan.1.status"),
        ([PLAN[0], {"step": "Ship", "status": "done"}], "'pending', 'in_progress' or 'completed'"),
        ([{"status": "pending"}], "plan.0.step"),
    ],
)
async def test_invalid_plans_are_refused_with_the_reason(
    mode: str, settings: PlanSettings, plan: list[dict[str, str]], message: str
) -> None:
    async with connect(mode, settings) as client:
        await client.call_tool("update_plan", {"plan": PLAN})
        result = await client.call_tool("update_plan", {"plan": plan})
        assert result.is_error
        assert message in text_of(result)
        # A refused update changes nothing.
        kept = await client.call_tool("get_plan", {})
        assert kept.structured_content is not None and kept.structured_content["plan"] == PLAN


async def test_plan_is_a_resource(mode: str, settings: PlanSettings) -> None:
    async with connect(mode, settings) as client:
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == [PLAN_URI]
        assert resources[0].mime_type == "application/json"
        await client.call_tool("update_plan", {"plan": PLAN})
        contents = (await client.read_resource(PLAN_URI)).contents[0]
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["plan"] == PLAN


async def test_plan_survives_a_restart(mode: str, settings: PlanSettings) -> None:
    async with connect(mode, settings) as client:
        await client.call_tool("update_plan", {"plan": PLAN, "explanation": "before restart"})
    assert settings.state_file is not None and settings.state_file.exists()
    async with connect(mode, settings) as again:  # a new server instance, same state file
        got = await again.call_tool("get_plan", {})
    assert got.structured_content is not None
    assert got.structured_content["plan"] == PLAN
    assert got.structured_content["explanation"] == "before restart"


async def test_default_state_file_is_keyed_by_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = PlanSettings(workspace=Workspace.from_paths([tmp_path / "one"]))
    two = PlanSettings(workspace=Workspace.from_paths([tmp_path / "two"]))
    async with connect("legacy", one) as client:
        await client.call_tool("update_plan", {"plan": PLAN})
    async with connect("legacy", one) as client:
        same = await client.call_tool("get_plan", {})
    async with connect("legacy", two) as client:
        other = await client.call_tool("get_plan", {})
    assert same.structured_content is not None and same.structured_content["plan"] == PLAN
    assert other.structured_content is not None and other.structured_content["plan"] == []
    assert one.resolved_state_file().is_relative_to(tmp_path / "xdg")


async def test_unwritable_state_file_is_a_tool_error(mode: str, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    settings = PlanSettings(
        workspace=Workspace.from_paths([tmp_path]), state_file=tmp_path / "blocker" / "plan.json"
    )
    async with connect(mode, settings) as client:
        result = await client.call_tool("update_plan", {"plan": PLAN})
    assert result.is_error
    assert "could not save the plan" in text_of(result)


async def test_legacy_subscriber_is_notified_on_update(settings: PlanSettings) -> None:
    updates = ResourceUpdates()
    async with connect("legacy", settings, message_handler=updates) as client:
        await client.subscribe_resource(PLAN_URI)
        await client.call_tool("update_plan", {"plan": PLAN})
        with anyio.fail_after(10):
            await updates.wait_for(PLAN_URI)
        # A refused update is no update.
        await client.call_tool("update_plan", {"plan": [PLAN[1], PLAN[1]]})
        await client.call_tool("update_plan", {"plan": PLAN[:1]})
        with anyio.fail_after(10):
            await updates.wait_for(PLAN_URI, count=2)
    assert updates.uris == [PLAN_URI, PLAN_URI]


async def test_modern_listener_is_notified_on_update(settings: PlanSettings) -> None:
    async with connect("auto", settings) as client:
        assert client.session.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[PLAN_URI]) as sub:
            await client.call_tool("update_plan", {"plan": PLAN})
            with anyio.fail_after(10):
                event = await sub.__anext__()
    assert str(getattr(event, "uri", "")) == PLAN_URI


async def test_update_from_one_client_reaches_the_other(settings: PlanSettings) -> None:
    """The user's UI subscribes; the agent updates through its own connection."""
    server = create_server(settings)
    updates = ResourceUpdates()
    async with (
        Client(server, mode="legacy", message_handler=updates) as watcher,
        Client(server, mode="auto") as agent,
    ):
        await watcher.subscribe_resource(PLAN_URI)
        await agent.call_tool("update_plan", {"plan": PLAN})
        with anyio.fail_after(10):
            await updates.wait_for(PLAN_URI)
        contents = (await watcher.read_resource(PLAN_URI)).contents[0]
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["plan"] == PLAN
