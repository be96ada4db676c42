"""The model connection pool: one write per request, keep-alive, the environment's proxy."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import httpcore2
import pytest
from anyio.abc import SocketStream

from agent.model.pool import CoalescingBackend, CoalescingStream, connection_pool

pytestmark = pytest.mark.anyio

ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 12\r\n\r\n"
    b"data: hi\n\n\n\n"
)


class LoopbackServer:
    """Answers every request on every connection with :data:`ANSWER`; keeps what it read."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, stream: SocketStream) -> None:
        self.connections += 1
        buffer = b""
        async with stream:
            while True:
                try:
                    buffer += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    if len(rest) < length:
                        break
                    self.requests.append(head + b"\r\n\r\n" + rest[:length])
                    buffer = rest[length:]
                    await stream.send(ANSWER)


class CountingBackend(httpcore2.AsyncNetworkBackend):
    """The real AnyIO backend, counting the writes that reach the socket."""

    def __init__(self) -> None:
        self.inner = httpcore2.AnyIOBackend()
        self.writes: list[int] = []

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
        stream = await self.inner.connect_tcp(host, port, **kwargs)
        writes = self.writes
        original = stream.write

        async def write(buffer: bytes, timeout: float | None = None) -> None:
            writes.append(len(buffer))
            await original(buffer, timeout)

        stream.write = write  # type: ignore[method-assign]
        return stream

    async def connect_unix_socket(self, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def test_each_request_is_one_write_on_a_kept_alive_connection() -> None:
    server = LoopbackServer()
    counting = CountingBackend()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        async with httpcore2.AsyncConnectionPool(
            network_backend=CoalescingBackend(counting)
        ) as pool:
            body = b'{"input": "' + b"x" * 50_000 + b'"}'
            for _ in range(3):
                response = await pool.request(
                    "POST",
                    f"http://127.0.0.1:{port}/v1/responses",
                    headers={"Content-Type": "application/json"},
                    content=body,
                )
                assert response.status == 200
                assert response.content == b"data: hi\n\n\n\n"
        tg.cancel_scope.cancel()
    assert server.connections == 1
    assert len(server.requests) == 3
    assert all(r.endswith(body) for r in server.requests)
    assert len(counting.writes) == 3  # head and body together, once per request
    assert all(n > len(body) for n in counting.writes)


async def test_nothing_is_sent_for_a_request_abandoned_before_reading() -> None:
    sent: list[bytes] = []

    class Inner(httpcore2.AsyncMockStream):
        async def write(self, buffer: bytes, timeout: float | None = None) -> None:
            sent.append(buffer)

    stream = CoalescingStream(Inner([]))
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    await stream.aclose()
    assert sent == []


async def test_the_environments_proxy_is_used_with_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = LoopbackServer()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    for var in ("https_proxy", "all_proxy", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://me:secret@127.0.0.1:{port}")
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        async with connection_pool("http://model.invalid/v1") as pool:
            url = "http://model.invalid/v1/responses"
            response = await pool.request("POST", url, content=b"{}")
            assert response.status == 200
        tg.cancel_scope.cancel()
    (request,) = server.requests
    assert request.startswith(b"POST http://model.invalid/v1/responses HTTP/1.1\r\n")
    credentials = base64.b64encode(b"me:secret")
    assert b"Proxy-Authorization: Basic " + credentials in request
