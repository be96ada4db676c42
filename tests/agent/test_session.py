from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agent.model.request import encode
from agent.session import (
    INTERRUPTED_OUTPUT,
    Session,
    find_session,
    repair,
    replay_file,
)

USER = {"type": "message", "role": "user", "content": "hi"}
CALL = {"type": "function_call", "call_id": "c1", "name": "echo", "arguments": "{}"}
OUTPUT = {"type": "function_call_output", "call_id": "c1", "output": "ok"}
REASONING = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"}


def test_items_are_on_disk_as_soon_as_appended(tmp_path: Path) -> None:
    session = Session.create({"cwd": "/w", "context": 1}, directory=tmp_path)
    session.append_item(encode(USER))
    session.append_items([encode(CALL), encode(OUTPUT)])
    # no close, no flush: what a SIGKILL would leave
    assert session.path is not None
    replay = replay_file(session.path)
    assert replay.items == [USER, CALL, OUTPUT]
    assert replay.meta["id"] == session.id and replay.meta["context"] == 1
    session.close()


def test_history_records_replace_and_turns_add_up(tmp_path: Path) -> None:
    session = Session.create({}, directory=tmp_path)
    session.append_item(encode(USER))
    session.append_item(encode(CALL))
    session.rewrite("compaction", [USER], kind="remote")
    session.append_item(encode(OUTPUT))
    usage = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 50}, "output_tokens": 7}
    session.record("turn", response_id="r1", usage=usage)
    session.record("turn", response_id="r2", usage=usage)
    session.close()
    assert session.path is not None
    replay = replay_file(session.path)
    assert replay.items == [USER, OUTPUT]
    assert replay.totals.turns == 2 and replay.totals.input_tokens == 200
    assert replay.totals.cache_hit_rate == 0.5


def test_a_torn_last_line_is_ignored_and_appending_resumes_cleanly(tmp_path: Path) -> None:
    session = Session.create({}, directory=tmp_path)
    session.append_item(encode(USER))
    session.close()
    assert session.path is not None
    with session.path.open("ab") as f:
        f.write(b'{"type":"item","item":{"type":"mess')  # killed mid-write
    reopened, replay = Session.open_existing(session.path)
    assert replay.torn and replay.items == [USER]
    reopened.append_item(encode(CALL))
    reopened.close()
    assert replay_file(session.path).items == [USER, CALL]


def test_repair_answers_dangling_calls_and_drops_trailing_reasoning() -> None:
    items, added, dropped = repair([USER, CALL, REASONING])
    assert dropped == 1
    assert added == [
        {"type": "function_call_output", "call_id": "c1", "output": INTERRUPTED_OUTPUT}
    ]
    assert items == [USER, CALL, *added]
    assert repair([USER, CALL, OUTPUT]) == ([USER, CALL, OUTPUT], [], 0)


def test_ephemeral_sessions_write_nothing(tmp_path: Path) -> None:
    session = Session.create({}, ephemeral=True, directory=tmp_path)
    session.append_item(encode(USER))
    session.record("end", status="completed")
    assert session.path is None and list(tmp_path.iterdir()) == []


def test_find_session_by_prefix_and_latest(tmp_path: Path) -> None:
    a = Session.create({"cwd": "/one"}, directory=tmp_path)
    a.close()
    time.sleep(0.01)
    b = Session.create({"cwd": "/two"}, directory=tmp_path)
    b.close()
    assert a.path is not None and b.path is not None
    os.utime(a.path, ns=(1, 1))  # make b clearly the most recent
    assert find_session(None, directory=tmp_path) == b.path
    assert find_session(None, cwd=Path("/one"), directory=tmp_path) == a.path
    assert find_session(a.id, directory=tmp_path) == a.path
    assert find_session(a.id[:-2], directory=tmp_path) == a.path
    assert find_session("nope", directory=tmp_path) is None
    shared = a.id[: next(i for i, (x, y) in enumerate(zip(a.id, b.id, strict=False)) if x != y)]
    if shared:
        with pytest.raises(LookupError):
            find_session(shared, directory=tmp_path)


def test_session_file_is_plain_jsonl(tmp_path: Path) -> None:
    session = Session.create({"model": "m"}, directory=tmp_path)
    session.append_item(encode(USER))
    session.close()
    assert session.path is not None
    lines = [json.loads(line) for line in session.path.read_text().splitlines()]
    assert lines[0]["type"] == "session" and lines[0]["model"] == "m"
    assert lines[1] == {"type": "item", "item": USER}
