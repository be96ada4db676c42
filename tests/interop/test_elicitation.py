"""The agent's answer to elicitation: accept a form with every required field defaulted, with the
defaults filled in; decline anything a person would have to fill in."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from agent.hub.elicitation import answer_elicitation, defaults_of

pytestmark = pytest.mark.anyio


class Confirm(BaseModel):
    name: str = "John Doe"
    age: int = 30
    score: float = 95.5
    verified: bool = True


class NeedsPerson(BaseModel):
    password: str = Field(description="no default: only a person can answer")


def elicit_server() -> MCPServer[Any]:
    server = MCPServer("asks")

    @server.tool()
    async def confirm(ctx: Context) -> str:
        """Ask to go ahead with defaults."""
        answer = await ctx.elicit("Proceed with these settings?", schema=Confirm)
        return f"{answer.action}: {answer.data.model_dump() if answer.action == 'accept' else ''}"

    @server.tool()
    async def secret(ctx: Context) -> str:
        """Ask for something only a person knows."""
        answer = await ctx.elicit("Your password?", schema=NeedsPerson)
        return answer.action

    return server


def test_defaults_of() -> None:
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["a", "b"], "default": "b"},
            "tags": {"type": "array", "items": {"type": "string"}, "default": ["x"]},
            "note": {"type": "string"},
        },
        "required": ["status"],
    }
    assert defaults_of(schema) == {"status": "b", "tags": ["x"]}
    assert defaults_of({**schema, "required": ["note"]}) is None
    assert defaults_of({"type": "object", "properties": {}}) == {}


async def test_round_trip_through_a_real_server() -> None:
    # Handshake era only: on 2026-07-28 a server asks through an input-required result, and
    # ``ctx.elicit`` has no back channel to send the request on.
    async with Client(
        elicit_server(), mode="legacy", elicitation_callback=answer_elicitation
    ) as client:
        accepted = await client.call_tool("confirm", {})
        declined = await client.call_tool("secret", {})
    text = accepted.content[0].text  # type: ignore[union-attr]
    assert text.startswith("accept") and "'John Doe'" in text and "95.5" in text
    assert declined.content[0].text == "decline"  # type: ignore[union-attr]
