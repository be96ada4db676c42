"""The ``toolwire`` command as a user runs it: a subprocess against the scripted model
server (in a thread of the test), with the real bundled servers."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.mockmodel import Fault, MockModelServer
from agent.session import replay_file

REPO = Path(__file__).resolve().parents[2]
LIGHT = [  # files and plan only: enough for these tests, and quick to start
    "-c", "servers.shell.enabled=false",
    "-c", "servers.search.enabled=false",
    "-c", "servers.patch.enabled=false",
]  # fmt: skip


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": arguments}


def plan(step: str) -> dict[str, Any]:
    return call("update_plan", plan=[{"step": step, "status": "in_progress"}])


def toolwire(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def mock() -> Iterator[MockModelServer]:
    server = MockModelServer()
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


READ_SCRIPT = {
    "turns": [
        [call("read_file", path="textstats/words.py"), call("list_dir", path="tests")],
        [plan("explain the bug")],
        ["words() forgets to lower-case."],
    ]
}


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_json_output_is_one_event_per_line(
    env: Path, workspace: Path, mock: MockModelServer, transport: str
) -> None:
    mock.script = READ_SCRIPT
    done = subprocess.run(
        toolwire(
            "run", "--json", "--yes", "--base-url", mock.url, "--transport", transport,
            "-C", str(workspace), *LIGHT, "why do the tests fail?",
        ),
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)  # every line parses
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session.started" and kinds[-1] == "run.completed"
    started = events[0]
    assert started["transport"] == transport and started["model"] == "gpt-5.2"
    assert kinds.count("turn.started") == 3
    tools = [e for e in events if e["type"] == "tool.completed"]
    # read_file and list_dir run concurrently in one turn: they complete in either order
    assert sorted(t["name"] for t in tools[:2]) == ["list_dir", "read_file"]
    assert tools[2]["name"] == "update_plan"
    assert not any(t["is_error"] for t in tools)
    by_name = {t["name"]: t for t in tools}
    assert "_WORD.findall(text)" in by_name["read_file"]["output"]
    end = events[-1]
    assert end["status"] == "completed" and end["exit_code"] == 0
    assert end["final_text"] == "words() forgets to lower-case."
    assert end["usage"]["turns"] == 3
    session_file = Path(started["session_file"])
    assert session_file.parent == env / "sessions"
    assert [r.transport for r in mock.records] == ["http" if transport == "http" else "ws"] * 3


FREEZE_PROBE = (
    "import atexit, gc, runpy, sys;"
    "atexit.register(lambda: print(f'frozen={gc.get_freeze_count()}', file=sys.stderr));"
    "sys.argv[0] = 'toolwire';"
    "runpy.run_module('agent.cli', run_name='__main__')"
)
"""Runs the command as ``-m agent.cli`` does, and says at exit how many objects were frozen."""


def test_start_up_objects_are_frozen_before_the_first_turn(
    env: Path, workspace: Path, mock: MockModelServer
) -> None:
    """Once the hub is up, everything alive is frozen (``gc.freeze``), so a full collection in
    the middle of a turn does not walk it."""
    mock.script = {"turns": [["nothing to do."]]}
    done = subprocess.run(
        [
            sys.executable, "-c", FREEZE_PROBE, "run", "--json", "--yes",
            "--base-url", mock.url, "-C", str(workspace), *LIGHT, "anything to do?",
        ],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frozen = re.search(r"frozen=(\d+)", done.stderr)
    assert frozen is not None, done.stderr
    assert int(frozen[1]) > 50_000  # the SDK, pydantic's models, the hub: ~100k objects


def test_usage_errors_exit_2(env: Path, workspace: Path, mock: MockModelServer) -> None:
    no_task = subprocess.run(toolwire("run"), capture_output=True, text=True, timeout=60)
    assert no_task.returncode == 2 and "give a task" in no_task.stderr
    no_key = subprocess.run(
        toolwire("run", "-C", str(workspace), "hello"),
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )  # fmt: skip
    assert no_key.returncode == 2 and "OPENAI_API_KEY" in no_key.stderr
    no_session = subprocess.run(
        toolwire("resume", "no-such-session", "--base-url", mock.url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert no_session.returncode == 2 and "no saved session" in no_session.stderr
    bad_flag = subprocess.run(toolwire("run", "--approval", "sometimes", "x"), capture_output=True)
    assert bad_flag.returncode == 2


def test_a_failed_model_exits_1(env: Path, workspace: Path, mock: MockModelServer) -> None:
    mock.script = {
        "turns": [{"status": "failed", "error": {"code": "invalid_prompt", "message": "no"}}]
    }
    done = subprocess.run(
        toolwire(
            "run", "--json", "--ephemeral", "--base-url", mock.url, "-C", str(workspace),
            *LIGHT, "x",
        ),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert not (env / "sessions").exists()  # --ephemeral kept nothing
    events = json_lines(done.stdout)
    assert events[-1]["type"] == "run.completed" and events[-1]["status"] == "failed"
    assert any(e["type"] == "error" and "invalid_prompt" in e["message"] for e in events)


def wait_for_event(
    proc: subprocess.Popen[str], kind: str, count: int = 1, limit: float = 60
) -> list[dict[str, Any]]:
    """Read ``--json`` events from ``proc`` until ``count`` events of ``kind`` arrived."""
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while sum(e["type"] == kind for e in events) < count:
        assert time.monotonic() < deadline, f"no {kind} event: {events}"
        line = proc.stdout.readline()
        assert line, f"the run ended early: {events}"
        events.append(json.loads(line))
    return events


LONG_SCRIPT = {
    "turns": [
        [call("read_file", path="textstats/words.py")],
        [plan("step two")],
        [call("read_file", path="tests/test_words.py")],
        [plan("step four")],
        ["Finished."],
    ]
}


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_sigkill_mid_run_then_resume_loses_nothing(
    env: Path, workspace: Path, mock: MockModelServer, transport: str
) -> None:
    mock.script = LONG_SCRIPT
    # the third request hangs, so the kill lands while the agent waits for the model
    mock.inject(Fault(kind="slow", at_request=3, delay_ms=3000))
    proc = subprocess.Popen(
        toolwire(
            "run", "--json", "--yes", "--base-url", mock.url, "--transport", transport,
            "-C", str(workspace), *LIGHT, "do the long thing",
        ),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        # turn 3 starts once turn 2's output is saved; its request then hangs
        events = wait_for_event(proc, "turn.started", count=3)
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait()
    mock.model.faults.clear()  # in case the kill came before the slow request arrived
    session_file = Path(events[0]["session_file"])
    before = replay_file(session_file).items
    completed_calls = [e["call_id"] for e in events if e["type"] == "tool.completed"]
    assert len(completed_calls) == 2
    saved_outputs = [i["call_id"] for i in before if i["type"] == "function_call_output"]
    assert saved_outputs == completed_calls  # everything completed was on disk

    mock.clear_records()
    done = subprocess.run(
        toolwire("resume", "--last", "--json", "--yes", *LIGHT),
        capture_output=True, text=True, timeout=120, cwd=workspace,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    resumed = json_lines(done.stdout)
    assert resumed[0]["resumed"] is True
    assert resumed[0]["session_id"] == events[0]["session_id"]
    assert resumed[0]["transport"] == transport  # the session's own settings
    assert resumed[-1]["final_text"] == "Finished."
    first = mock.records[0]
    assert first.previous_response_id is None  # a new process: the full history
    assert first.body is not None
    assert first.body["input"][: len(before)] == before  # not one completed item lost
    after = replay_file(session_file).items
    assert after[: len(before)] == before


def test_ctrl_c_cancels_saves_and_exits_130(
    env: Path, workspace: Path, mock: MockModelServer
) -> None:
    mock.script = LONG_SCRIPT
    mock.inject(Fault(kind="slow", at_request=2, delay_ms=5000))
    proc = subprocess.Popen(
        toolwire(
            "run", "--json", "--yes", "--base-url", mock.url, "-C", str(workspace), *LIGHT, "go"
        ),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        events = wait_for_event(proc, "tool.completed")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    tail = json_lines(out)
    assert tail[-1]["type"] == "run.completed" and tail[-1]["status"] == "interrupted"
    lines = Path(events[0]["session_file"]).read_text().splitlines()
    assert json.loads(lines[-1]) == {"type": "end", "status": "interrupted"}


class Terminal:
    """The CLI under a pseudo-terminal, as a person would run it."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, close_fds=True,
            env={**os.environ, "TERM": "dumb", "COLUMNS": "200"},
        )  # fmt: skip
        os.close(slave)
        self.master = master
        self.seen = ""

    def expect(self, text: str, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while text not in self.seen:
            assert time.monotonic() < deadline, f"never saw {text!r} in:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk or self.proc.poll() is None, f"ended early:\n{self.seen}"
                self.seen += chunk.decode(errors="replace")

    def send(self, text: str) -> None:
        self.seen = ""
        os.write(self.master, text.encode())

    def finish(self, limit: float = 60) -> int:
        deadline = time.monotonic() + limit
        while self.proc.poll() is None:
            assert time.monotonic() < deadline
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        os.close(self.master)
        return self.proc.wait(timeout=limit)


def test_approval_prompts_at_a_terminal(env: Path, workspace: Path, mock: MockModelServer) -> None:
    mock.script = {
        "turns": [
            [plan("first try")],
            [plan("second try")],
            [call("read_file", path="README.md"), plan("third")],
            ["Planned."],
        ]
    }
    term = Terminal(
        toolwire(
            "run", "--approval", "untrusted", "--base-url", mock.url, "-C", str(workspace),
            *LIGHT, "make a plan",
        ),
        cwd=REPO,
    )  # fmt: skip
    term.expect("Approve update_plan?")
    term.expect("[n] no >")
    term.send("n\n")  # denied: the model is told
    term.expect("Approve update_plan?")
    term.expect("> ")
    term.send("a\n")  # approved, and for the rest of the session
    term.expect("Planned.")  # no third question: read_file is read-only, update_plan remembered
    assert "Approve" not in term.seen
    assert term.finish() == 0
    outputs = [
        item["output"]
        for record in mock.records
        if record.body
        for item in record.body["input"]
        if item.get("type") == "function_call_output"
    ]
    assert any("denied" in str(o) for o in outputs)
    assert any("second try" in str(o) for o in outputs)


def test_chat_takes_one_message_per_line_until_end_of_input(
    env: Path, workspace: Path, mock: MockModelServer
) -> None:
    mock.script = {
        "turns": [
            [call("read_file", path="README.md")],
            ["It computes word statistics."],
            ["You asked two things; both are answered."],
        ]
    }
    term = Terminal(
        toolwire("chat", "--base-url", mock.url, "-C", str(workspace), *LIGHT), cwd=REPO
    )
    term.expect("› ")
    term.send("what is this repository?\n")
    term.expect("It computes word statistics.")
    term.expect("› ")
    term.send("and anything else?\n")
    term.expect("both are answered.")
    term.expect("› ")
    term.send("\x04")  # Ctrl-D: end of input
    assert term.finish() == 0
    requests = [r for r in mock.records if r.body]
    assert len(requests) == 3
    last_input = requests[-1].body["input"] if requests[-1].body else []
    users = [i for i in last_input if i.get("role") == "user"]
    assert "and anything else?" in json.dumps(users[-1])  # one session, one growing history


def test_resume_a_finished_session_with_a_new_message(
    env: Path, workspace: Path, mock: MockModelServer
) -> None:
    mock.script = {"turns": [["First answer."], ["Second answer."]]}
    args = ["--json", "--base-url", mock.url, *LIGHT]
    first = subprocess.run(
        toolwire("run", *args, "-C", str(workspace), "first question"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    session_id = json_lines(first.stdout)[0]["session_id"]
    no_message = subprocess.run(
        toolwire("resume", session_id, *args), capture_output=True, text=True, timeout=120
    )
    assert no_message.returncode == 2  # nothing to continue without a terminal
    second = subprocess.run(
        toolwire("resume", *args, session_id[:12], "second question"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    events = json_lines(second.stdout)
    assert events[0]["session_id"] == session_id and events[0]["resumed"]
    assert events[-1]["final_text"] == "Second answer."
    last = mock.records[-1].body
    assert last is not None
    texts = json.dumps(last["input"])
    assert "first question" in texts and "First answer." in texts and "second question" in texts
