"""The SSE parser: WHATWG line rules, any chunking, checked against httpx2's own decoder."""

from __future__ import annotations

import httpcore2
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.model.http import wire_size
from agent.model.pool import proxy_for
from agent.model.sse import SseParser


def parse(*chunks: bytes) -> list[tuple[str, bytes]]:
    parser = SseParser()
    events: list[tuple[str, bytes]] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


def test_events_fields_and_comments() -> None:
    stream = (
        b": keep-alive\n"
        b'event: response.created\ndata: {"a": 1}\n\n'
        b"data: first\ndata:second\nid: 7\nretry: 10\n\n"
        b"event: ignored without data\n\n"
        b"event: x\ndata\n\n"
        b"data: tail-without-blank-line"
    )
    assert parse(stream) == [
        ("response.created", b'{"a": 1}'),
        ("message", b"first\nsecond"),
        ("x", b""),
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_split_anywhere(newline: bytes) -> None:
    stream = newline.join([b"event: a", b"data: 1", b"", b"data: 2", b"", b""])
    for cut in range(len(stream) + 1):
        assert parse(stream[:cut], stream[cut:]) == [("a", b"1"), ("message", b"2")], cut


lines = st.lists(
    st.one_of(
        st.just(""),
        st.builds(lambda v: f"data: {v}", st.text(alphabet='ab{}": é', max_size=6)),
        st.builds(lambda v: f"event: {v}", st.sampled_from(["x", "response.done", ""])),
        st.builds(lambda v: f": {v}", st.text(alphabet="ab ", max_size=4)),
        st.just("data"),
        st.just("id: 3"),
    ),
    max_size=14,
)


@given(lines=lines, newline=st.sampled_from(["\n", "\r\n", "\r"]), cuts=st.data())
def test_agrees_with_httpx2_for_any_chunking(
    lines: list[str], newline: str, cuts: st.DataObject
) -> None:
    stream = (newline.join(lines) + newline + newline).encode()
    points = sorted(cuts.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]

    reference = httpx2._sse._SSEEventDecoder()  # type: ignore[attr-defined]
    expected = []
    line_decoder = httpx2._sse._SSELineDecoder()  # type: ignore[attr-defined]
    for line in line_decoder.decode(stream.decode()) + line_decoder.flush():
        event = reference.decode(line)
        if event is not None and event.data:
            expected.append((event.event, event.data.encode()))
    got = [(name, data) for name, data in parse(*chunks) if data]
    assert got == expected


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    assert proxy_for("https://api.openai.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.corp:3128"
    assert proxy_for("http://127.0.0.1:8080/v1") is None
    monkeypatch.setenv("NO_PROXY", "api.openai.com")
    assert proxy_for("https://api.openai.com/v1") is None


def test_wire_size_counts_request_line_headers_and_body() -> None:
    body = b'{"a":1}'
    request = httpcore2.Request(
        "POST", "http://h:1/v1/responses", headers=[("Host", "h:1"), ("X", "y")], content=body
    )
    head = "POST /v1/responses HTTP/1.1\r\n" + "".join(
        f"{k.decode()}: {v.decode()}\r\n" for k, v in request.headers
    )
    assert wire_size(request, body) == len(head) + 2 + len(body)
