"""ResourceSubscriptions on a bare MCPServer: who is subscribed, in both eras, and for how long."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from servers.common.subscriptions import ResourceSubscriptions
from tests.support import ResourceUpdates

pytestmark = pytest.mark.anyio

A, B = "test://a", "test://b"


def make_server() -> tuple[MCPServer, ResourceSubscriptions]:
    subs = ResourceSubscriptions()
    server = MCPServer("subs-test", subscriptions=subs.bus)
    subs.install(server)
    return server, subs


async def until(subs: ResourceSubscriptions, condition: Callable[[], bool]) -> None:
    with anyio.fail_after(10):
        while not condition():
            await subs.next_change().wait()


async def test_subscribe_is_advertised_in_the_handshake() -> None:
    server, _ = make_server()
    async with Client(server, mode="legacy") as client:
        caps = client.session.server_capabilities
        assert caps is not None and caps.resources is not None
        assert caps.resources.subscribe


async def test_legacy_subscribe_publish_unsubscribe() -> None:
    server, subs = make_server()
    updates = ResourceUpdates()
    async with Client(server, mode="legacy", message_handler=updates) as client:
        changed = subs.next_change()
        await client.subscribe_resource(A)
        assert changed.is_set()
        await client.subscribe_resource(A)  # twice: still one subscriber
        await client.subscribe_resource(B)
        assert subs.interest == {A, B}

        await subs.publish(A)
        await subs.publish(B)
        with anyio.fail_after(10):
            await updates.wait_for(B)
        assert updates.uris == [A, B]  # A once, not once per subscribe call

        await client.unsubscribe_resource(A)
        assert subs.interest == {B}
        await subs.publish(A)  # nobody listens: sent to no one
        await subs.publish(B)
        with anyio.fail_after(10):
            await updates.wait_for(B, count=2)
        assert updates.uris == [A, B, B]


async def test_closed_connection_is_forgotten() -> None:
    server, subs = make_server()
    async with Client(server, mode="legacy") as client:
        await client.subscribe_resource(A)
        assert subs.interest == {A}
    await until(subs, lambda: not subs.interest)
    await subs.publish(A)  # must not raise


async def test_two_clients_each_get_their_own_notifications() -> None:
    server, subs = make_server()
    first, second = ResourceUpdates(), ResourceUpdates()
    async with (
        Client(server, mode="legacy", message_handler=first) as one,
        Client(server, mode="legacy", message_handler=second) as two,
    ):
        await one.subscribe_resource(A)
        await two.subscribe_resource(A)
        await two.subscribe_resource(B)
        await one.unsubscribe_resource(A)
        assert subs.interest == {A, B}
        await subs.publish(A)
        await subs.publish(B)
        with anyio.fail_after(10):
            await second.wait_for(B)
        assert second.uris == [A, B]
        assert first.uris == []


async def test_modern_listen_interest_and_events() -> None:
    server, subs = make_server()
    async with Client(server, mode="auto") as client:
        assert client.session.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[A]) as sub:
            await until(subs, lambda: subs.interest == {A})
            await subs.publish(B)  # not asked for
            await subs.publish(A)
            with anyio.fail_after(10):
                event = await sub.__anext__()
            assert str(getattr(event, "uri", "")) == A
        await until(subs, lambda: not subs.interest)
