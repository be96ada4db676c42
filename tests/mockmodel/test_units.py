"""The pure parts: token arithmetic, the prefix cache, scripts, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.mockmodel import Fault, FunctionCallSpec, MessageSpec, ReasoningSpec, Script
from agent.mockmodel.cache import PromptCache, common_prefix_len
from agent.mockmodel.conversation import decode_compaction, encode_compaction, scan
from agent.mockmodel.faults import FaultPlan
from agent.mockmodel.latency import LatencyModel
from agent.mockmodel.prompt import items_bytes
from agent.mockmodel.scripts import ToolOutput
from agent.mockmodel.tokens import cached_tokens, estimate_tokens, group_pieces, split_pieces

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scripts"


@given(st.text())
def test_pieces_reassemble_exactly(text: str) -> None:
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert all(pieces)
    for per in (1, 2, 5):
        assert "".join(group_pieces(pieces, per)) == text


def test_pieces_are_token_sized() -> None:
    assert split_pieces("Hello world, 12345!") == ["Hello", " world", ",", " 123", "45", "!"]


def test_token_estimate_and_cache_steps() -> None:
    assert estimate_tokens(0) == 0
    assert estimate_tokens(1) == 1
    assert estimate_tokens(4096) == 1024
    assert cached_tokens(1023) == 0
    assert cached_tokens(1024) == 1024
    assert cached_tokens(1151) == 1024
    assert cached_tokens(1152) == 1152
    assert cached_tokens(5000) == 1024 + 31 * 128


@given(st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=300))
def test_common_prefix_matches_naive(prefix: bytes, a: bytes, b: bytes) -> None:
    x, y = prefix + a, prefix + b
    naive = 0
    while naive < min(len(x), len(y)) and x[naive] == y[naive]:
        naive += 1
    assert common_prefix_len(x, y, chunk=16) == naive
    assert common_prefix_len(x, y) == naive


def test_prompt_cache_is_per_key_and_stepped() -> None:
    cache = PromptCache()
    base = b"x" * 4096 * 2  # 2048 tokens
    assert cache.lookup("a", base) == 0  # nothing earlier
    assert cache.lookup("a", base + b"more") == 2048
    assert cache.lookup("b", base + b"more") == 0  # another key, another cache
    assert cache.lookup("a", base[:5000] + b"different") == 1152  # 1250 tokens shared
    assert cache.lookup("a", b"short") == 0


def test_scan_counts_model_turns_and_orphans() -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "grep", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2", "output": "two"},
        {"type": "message", "role": "assistant", "content": "ok"},
        {"role": "user", "content": "again"},
        {"type": "function_call", "call_id": "c3", "name": "grep", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c3",
            "output": [{"type": "input_text", "text": "three"}],
        },
    ]
    facts = scan(items)
    assert facts.turns == 3
    assert facts.orphan_call_id is None
    assert facts.recent_outputs == [ToolOutput("grep", "three")]
    orphan = scan([{"type": "function_call_output", "call_id": "nope", "output": "x"}])
    assert orphan.orphan_call_id == "nope"


def test_compaction_blob_round_trips_the_turn_count() -> None:
    items = [{"role": "user", "content": "hi"}]
    blob = encode_compaction(7, items)
    state = decode_compaction(blob)
    assert state is not None and state["turns"] == 7 and state["items"] == 1
    assert decode_compaction("someone-elses-blob") is None
    compacted = scan(
        [{"role": "user", "content": "hi"}, {"type": "compaction", "encrypted_content": blob}]
    )
    assert compacted.turns == 7


def test_canonical_bytes_ignore_bookkeeping() -> None:
    easy = {"role": "user", "content": "hi"}
    full = {
        "type": "message",
        "role": "user",
        "id": "msg_1",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    assert items_bytes([easy]) == items_bytes([full])
    out = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "x", "annotations": [], "logprobs": []}],
    }
    assert items_bytes([out]) == items_bytes([{"role": "assistant", "content": "x"}])


def test_script_shorthands_and_selection() -> None:
    script = Script.parse(
        {
            "turns": [
                [
                    {"type": "reasoning", "summary": "think"},
                    {"type": "function_call", "name": "read_file", "arguments": {"path": "a"}},
                ],
                "plain text turn",
            ],
            "rules": [{"match": "(?i)no such file", "tool": "read_file", "output": ["gone"]}],
            "final": "bye",
        }
    )
    first = script.select(0, []).turn.output
    assert first == [
        ReasoningSpec(summary=["think"]),
        FunctionCallSpec(name="read_file", arguments={"path": "a"}),
    ]
    assert script.select(1, [ToolOutput("read_file", "ok")]).turn.output == [
        MessageSpec(text="plain text turn")
    ]
    hit = script.select(1, [ToolOutput("read_file", "No such file: a")])
    assert hit.source == "rules[0]" and hit.turn.output == [MessageSpec(text="gone")]
    wrong_tool = script.select(1, [ToolOutput("grep", "No such file")])
    assert wrong_tool.source == "turns[1]"
    assert script.select(9, []).source == "final"
    assert script.select(9, []).turn.output == [MessageSpec(text="bye")]
    assert FunctionCallSpec(name="f", arguments='{"broken').arguments_json() == '{"broken'


def test_json_and_toml_scripts_are_equivalent(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(
        '{"turns": [[{"type": "function_call", "name": "ls", "arguments": {"path": "."}}],'
        ' ["done"]], "latency": {"ttft_ms": 5}, "faults": [{"kind": "drop"}]}'
    )
    (tmp_path / "s.toml").write_text(
        "[[turns]]\n"
        'output = [{ type = "function_call", name = "ls", arguments = { path = "." } }]\n'
        "[[turns]]\n"
        'output = ["done"]\n'
        "[latency]\nttft_ms = 5\n"
        '[[faults]]\nkind = "drop"\n'
    )
    assert Script.load(tmp_path / "s.json") == Script.load(tmp_path / "s.toml")


def test_bad_scripts_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="invalid regular expression"):
        Script.parse({"rules": [{"match": "(", "output": []}]})
    with pytest.raises(ValidationError):
        Script.parse({"turns": [[{"type": "telepathy"}]]})
    with pytest.raises(ValidationError):
        Script.parse({"latency": {"ttft_ms": -1}})


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*")), ids=lambda p: p.name)
def test_example_scripts_load(path: Path) -> None:
    script = Script.load(path)
    assert script.turns or script.rules


def test_fault_specs_and_plan() -> None:
    fault = Fault.parse_spec("rate_limit:retry_after=2.5,times=2,transport=http")
    assert fault == Fault(kind="rate_limit", retry_after=2.5, times=2, transport="http")
    with pytest.raises(ValueError, match="key=value"):
        Fault.parse_spec("drop:after_events")
    plan = FaultPlan([fault, Fault(kind="ws_close"), Fault(kind="slow", at_request=5)])
    assert plan.take(1, "ws") is not None  # ws_close (rate_limit is http-only here)
    assert plan.take(2, "http") == fault
    assert plan.take(3, "http") == fault
    assert plan.take(4, "http") is None  # the slow fault waits for request 5
    assert plan.take(5, "http") == Fault(kind="slow", at_request=5)
    assert plan.pending == []


def test_latency_model_arithmetic() -> None:
    lat = LatencyModel(overhead_ms=10, ttft_ms=100, tokens_per_second=50, per_input_kb_ms=2)
    assert lat.token_ms() == 20
    assert lat.prefill_ms(input_tokens=1024, cached_tokens=768) == 2.0  # 1 KiB uncached
    assert lat.first_output_ms(1024, 768) == 112.0
    assert LatencyModel().is_instant
