"""The connection pool the HTTP transport streams responses through.

It is ``httpcore2``'s pool (keep-alive, TLS with ``httpx2``'s certificate setup, the proxy the
environment names) with one change underneath: writes are held until the request is complete
and go out as one ``send``. An HTTP/1.1 client writes a whole request and only then reads, so
"flush before the first read" loses nothing; but the pool on its own writes the head and the
body separately, and every write to a listening peer wakes it. For a Responses API request (a
few hundred bytes of head, tens of KB of body) the second wake-up costs about 0.2 ms per turn
on loopback, which is a tenth of the loop's whole budget.
"""

# The stream and backend methods keep httpcore2's signatures, ``timeout`` parameters included.
# ruff: noqa: ASYNC109

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

__all__ = ["TRANSPORT_ERRORS", "CoalescingBackend", "connection_pool", "proxy_for"]

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpcore2.NetworkError,
    httpcore2.TimeoutException,
    httpcore2.ProtocolError,
    httpcore2.ProxyError,
    httpcore2.UnsupportedProtocol,
    OSError,
)
"""What the pool raises when the connection, not the server's answer, is the problem."""


class CoalescingStream(httpcore2.AsyncNetworkStream):
    """A network stream whose writes wait for the next read (or close, or TLS upgrade)."""

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        self._pending: list[bytes] = []
        self._timeout: float | None = None

    async def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            await self._inner.write(data, timeout=self._timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._pending.append(buffer)
            self._timeout = timeout

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush()
        return await self._inner.read(max_bytes, timeout=timeout)

    async def aclose(self) -> None:
        self._pending = []  # a request abandoned before its first read is not sent
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        await self._flush()
        return CoalescingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class CoalescingBackend(httpcore2.AsyncNetworkBackend):
    """``httpcore2``'s default network backend, with :class:`CoalescingStream` connections."""

    def __init__(self, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return CoalescingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return CoalescingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY``, unless ``NO_PROXY`` exempts the host), as ``httpx2.AsyncClient`` picks it."""
    parsed = httpx2.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parsed.host):
        return None
    return proxy


def connection_pool(url: str, *, keepalive_expiry: float = 300.0) -> httpcore2.AsyncConnectionPool:
    """A pool for requests to ``url``'s host, through the environment's proxy if it names one."""
    proxy: httpcore2.Proxy | None = None
    if (proxy_url := proxy_for(url)) is not None:
        parsed = httpx2.URL(proxy_url)
        auth = (parsed.username, parsed.password) if parsed.username else None
        # the userinfo travels as proxy auth, not in the URL (``netloc`` leaves it out)
        proxy = httpcore2.Proxy(f"{parsed.scheme}://{parsed.netloc.decode('ascii')}", auth=auth)
    return httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(),
        proxy=proxy,
        max_keepalive_connections=4,
        keepalive_expiry=keepalive_expiry,
        network_backend=CoalescingBackend(),
    )
