"""Shared fixtures: the official ``openai`` SDK is the independent client throughout, so
that the mock is held to the protocol as the SDK implements it, not as we imagine it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from agent.mockmodel import MockModelServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn and the SDK's WebSocket client are asyncio-based


_open_clients: list[AsyncOpenAI] = []


def sdk(srv: MockModelServer, **options: Any) -> AsyncOpenAI:
    """An SDK client for ``srv``; retries off unless a test asks for them. Closed by
    :func:`close_clients` while the test's event loop still runs."""
    options.setdefault("max_retries", 0)
    client = AsyncOpenAI(base_url=srv.url, api_key="test-key", **options)
    _open_clients.append(client)
    return client


@pytest.fixture
async def close_clients() -> AsyncIterator[None]:
    yield
    while _open_clients:
        await _open_clients.pop().close()


@pytest.fixture
async def echo_server() -> AsyncIterator[MockModelServer]:
    """A server with the default script (always the final message)."""
    async with MockModelServer() as srv:
        yield srv
