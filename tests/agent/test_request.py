"""Requests assembled from pre-encoded bytes decode to exactly the intended JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.model.request import History, RequestTemplate, encode

TOOLS = [{"type": "function", "name": "echo", "parameters": {"type": "object"}, "strict": False}]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
items = st.dictionaries(st.text(min_size=1), json_values, min_size=1, max_size=4)


def template(**overrides: Any) -> RequestTemplate:
    fields: dict[str, Any] = {
        "model": "m",
        "instructions": "be brief ✓",
        "tools": TOOLS,
        "include": ("reasoning.encrypted_content",),
        "prompt_cache_key": "session-1",
    }
    fields.update(overrides)
    return RequestTemplate(**fields)


@given(st.lists(items, max_size=6))
def test_http_body_is_the_whole_request(history_items: list[dict[str, Any]]) -> None:
    history = History(history_items)
    body = json.loads(template().http_body(history))
    assert body == {
        "model": "m",
        "instructions": "be brief ✓",
        "tools": TOOLS,
        "parallel_tool_calls": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
        "stream": True,
        "input": history_items,
    }


@given(st.lists(items, min_size=1, max_size=6), st.integers(min_value=0, max_value=6))
def test_ws_frame_carries_only_the_tail(history_items: list[dict[str, Any]], start: int) -> None:
    history = History(history_items)
    frame = json.loads(template().ws_frame(history.joined_from(start), "resp_1"))
    assert frame["type"] == "response.create"
    assert frame["previous_response_id"] == "resp_1"
    assert frame["input"] == history_items[start:]
    assert "stream" not in frame


def test_tools_given_as_bytes_are_spliced_verbatim() -> None:
    raw = b'[{"type":"function","name":"z","parameters":{}}]'
    body = template(tools=raw).http_body(History())
    assert b'"tools":' + raw in body


def test_each_item_is_encoded_once_and_the_input_grows_by_appending() -> None:
    history = History()
    first = history.append({"type": "message", "role": "user", "content": "hi"})
    before = bytes(history.joined)
    history.append({"type": "function_call_output", "call_id": "c", "output": "ok"})
    assert bytes(history.joined).startswith(before)
    assert history.encoded[0] is first
    assert history.size() == len(history.joined)


def test_replace_and_truncate_start_a_new_epoch() -> None:
    history = History([{"a": 1}, {"b": 2}])
    history.truncate(1)
    assert history.epoch == 1 and history.items == [{"a": 1}]
    history.replace([{"c": 3}])
    assert history.epoch == 2 and json.loads(b"[" + history.joined + b"]") == [{"c": 3}]


def test_copy_shares_items_and_grows_separately() -> None:
    history = History([{"a": 1}])
    other = history.copy()
    other.append({"b": 2})
    assert len(history) == 1 and len(other) == 2
    assert other.items[0] is history.items[0]
    assert other.epoch == history.epoch


def test_encode_is_compact_utf8() -> None:
    assert encode({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()
