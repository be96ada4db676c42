"""The runner's pieces that need no server: command line and rebinding allow-lists.

Serving over HTTP (401s, 421s, 403s) is tested for real in ``tests/test_transports.py``.
"""

from __future__ import annotations

import pytest

from servers.common.runner import MCP_PATH, build_parser, transport_security


def test_parser_defaults_and_repeated_roots() -> None:
    parser = build_parser("toolwire-x", "test")
    args = parser.parse_args([])
    assert (args.root, args.http, args.host, args.token) == (None, False, "127.0.0.1", None)
    args = parser.parse_args(["--root", "a", "--root", "b", "--http", "--port", "0"])
    assert args.root == ["a", "b"]
    assert args.http and args.port == 0
    assert MCP_PATH == "/mcp"


def test_parser_takes_server_arguments() -> None:
    parser = build_parser("toolwire-x", "test", lambda p: p.add_argument("--extra", type=int))
    assert parser.parse_args(["--extra", "3"]).extra == 3


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_allow_lists(host: str) -> None:
    settings = transport_security(host)
    assert settings.enable_dns_rebinding_protection
    assert "127.0.0.1:*" in settings.allowed_hosts
    assert "localhost:*" in settings.allowed_hosts
    assert "http://localhost:*" in settings.allowed_origins
    assert not any(h == "*" or h.startswith("*") for h in settings.allowed_hosts)


def test_specific_bind_address_is_allowed() -> None:
    settings = transport_security("192.168.1.5")
    assert "192.168.1.5:*" in settings.allowed_hosts
    assert "http://192.168.1.5:*" in settings.allowed_origins
    ipv6 = transport_security("fd00::1")
    assert "[fd00::1]:*" in ipv6.allowed_hosts


def test_wildcard_bind_does_not_allow_any_host() -> None:
    settings = transport_security("0.0.0.0")
    assert "0.0.0.0:*" not in settings.allowed_hosts
    assert sorted(settings.allowed_hosts) == ["127.0.0.1:*", "[::1]:*", "localhost:*"]


def test_allow_host_adds_names_clients_use() -> None:
    settings = transport_security("0.0.0.0", ["devbox.lan", "10.0.0.7"])
    assert "devbox.lan:*" in settings.allowed_hosts
    assert "10.0.0.7:*" in settings.allowed_hosts
    assert "http://devbox.lan:*" in settings.allowed_origins
    assert "evil.example:*" not in settings.allowed_hosts
