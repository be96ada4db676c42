"""exec_command, write_stdin, list_sessions and kill_session against real processes, in-process
over both MCP protocol eras."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import anyio
import pytest

from tests.shell.conftest import (
    SANDBOXES,
    call,
    call_error,
    live_pids,
    marker,
    shell_client,
    wait_until_gone,
    wait_until_present,
)

pytestmark = pytest.mark.anyio

PYTHON = shlex.quote(sys.executable)


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_exit_code_and_interleaved_output(root: Path, mode: str, sandbox: str) -> None:
    async with shell_client(root, mode, sandbox=sandbox) as client:
        data, text = await call(
            client, "exec_command", cmd="echo one; echo two >&2; echo three; exit 7"
        )
    assert data["status"] == "exited"
    assert data["exit_code"] == 7
    assert data["signal"] is None
    assert data["session_id"] is None
    assert data["output"] == "one\ntwo\nthree\n"
    assert data["output_lines"] == 3
    assert data["sandbox"] == sandbox
    assert data["wall_time_seconds"] >= 0
    assert text.startswith("Exited with code 7")
    assert f"[sandbox: {sandbox}]" in text


async def test_killed_by_signal(root: Path, mode: str) -> None:
    async with shell_client(root, mode) as client:
        data, text = await call(client, "exec_command", cmd="kill -SEGV $$")
    assert data["status"] == "exited"
    assert data["exit_code"] is None
    assert data["signal"] == "SIGSEGV"
    assert "Killed by SIGSEGV" in text


@pytest.mark.parametrize("sandbox", SANDBOXES[1:])
async def test_signal_inside_sandbox_is_reported_as_shell_status(root: Path, sandbox: str) -> None:
    # bwrap reports a signalled child as 128 + signal, like a shell does; the note says so.
    async with shell_client(root, sandbox=sandbox) as client:
        data, _ = await call(client, "exec_command", cmd="kill -KILL $$")
    assert data["exit_code"] == 137
    assert any("SIGKILL" in note for note in data["notes"])


async def test_slow_command_continues_with_write_stdin(root: Path, mode: str) -> None:
    async with shell_client(root, mode) as client:
        data, text = await call(
            client,
            "exec_command",
            cmd="echo start; sleep 0.6; echo middle; sleep 0.6; echo end",
            yield_time_ms=150,
        )
        assert data["status"] == "running"
        session = data["session_id"]
        assert isinstance(session, int)
        assert data["exit_code"] is None
        assert "start\n".startswith(data["output"])
        assert "end" not in data["output"]
        assert f"write_stdin(session_id={session})" in text

        seen = data["output"]
        for _ in range(50):
            data, _ = await call(client, "write_stdin", session_id=session, yield_time_ms=500)
            seen += data["output"]
            if data["status"] != "running":
                break
        assert data["status"] == "exited"
        assert data["exit_code"] == 0
        assert data["session_id"] is None
        assert seen == "start\nmiddle\nend\n"

        # Reported once: the session is gone afterwards.
        error = await call_error(client, "write_stdin", session_id=session)
        assert f"no session {session}" in error


async def test_stdin_pipe_without_tty(root: Path) -> None:
    async with shell_client(root) as client:
        data, _ = await call(
            client, "exec_command", cmd="read name; echo hello $name", yield_time_ms=100
        )
        assert data["status"] == "running"
        data, _ = await call(
            client,
            "write_stdin",
            session_id=data["session_id"],
            chars="world\n",
            yield_time_ms=5000,
        )
    assert data["status"] == "exited"
    assert data["output"] == "hello world\n"


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_interactive_python_on_a_tty(root: Path, mode: str, sandbox: str) -> None:
    async with shell_client(root, mode, sandbox=sandbox) as client:
        data, _ = await call(
            client,
            "exec_command",
            cmd=f"{PYTHON} -i -q -c 'import sys; print(sys.stdin.isatty())'",
            tty=True,
            yield_time_ms=500,
        )
        session = data["session_id"]
        seen = data["output"]
        while ">>> " not in seen:
            data, _ = await call(client, "write_stdin", session_id=session, yield_time_ms=200)
            seen += data["output"]
        assert "True" in seen  # stdin really is a terminal
        assert "\r" not in seen  # CRLF from the terminal is shown as plain newlines

        async def type_and_read(chars: str, expect: str) -> str:
            data, _ = await call(
                client, "write_stdin", session_id=session, chars=chars, yield_time_ms=200
            )
            out = str(data["output"])
            while expect not in out:
                data, _ = await call(client, "write_stdin", session_id=session, yield_time_ms=200)
                out += data["output"]
            return out

        await type_and_read("x = 6 * 7\n", ">>> ")
        await type_and_read("print(x)\n", "42")
        # Ctrl-C interrupts the running statement, not the REPL: the tty is its terminal.
        await type_and_read("import time; time.sleep(60)\n", "time.sleep(60)")
        await type_and_read("\x03", "KeyboardInterrupt")
        data, _ = await call(
            client, "write_stdin", session_id=session, chars="exit()\n", yield_time_ms=5000
        )
        while data["status"] == "running":
            data, _ = await call(client, "write_stdin", session_id=session, yield_time_ms=500)
    assert data["status"] == "exited"
    assert data["exit_code"] == 0


async def test_tty_sets_term_and_pipes_use_dumb(root: Path) -> None:
    async with shell_client(root) as client:
        piped, _ = await call(client, "exec_command", cmd="echo $TERM; test -t 0; echo $?")
        tty, _ = await call(client, "exec_command", cmd="echo $TERM; test -t 0; echo $?", tty=True)
    assert piped["output"] == "dumb\n1\n"
    assert tty["output"] == "xterm-256color\n0\n"


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_timeout_kills_tree_including_term_ignoring_grandchild(
    root: Path, sandbox: str
) -> None:
    mark = marker()
    cmd = f"sh -c 'trap \"\" TERM; exec sleep {mark}' & sleep {mark}1 & echo started; wait"
    async with shell_client(root, sandbox=sandbox) as client:
        data, text = await call(
            client, "exec_command", cmd=cmd, timeout_ms=700, yield_time_ms=30_000
        )
        assert data["status"] == "timed_out"
        assert "Timed out" in text
        assert data["output"] == "started\n"  # output produced before the kill is kept
        assert data["session_id"] is None
        assert await wait_until_gone(mark) == []


async def test_timeout_longer_than_yield_is_enforced_in_the_background(root: Path) -> None:
    mark = marker()
    async with shell_client(root) as client:
        data, _ = await call(
            client, "exec_command", cmd=f"sleep {mark}", timeout_ms=600, yield_time_ms=50
        )
        assert data["status"] == "running"
        session = data["session_id"]
        with anyio.fail_after(15):
            while data["status"] == "running":
                data, _ = await call(client, "write_stdin", session_id=session, yield_time_ms=300)
    assert data["status"] == "timed_out"
    assert data["signal"] == "SIGTERM"
    assert live_pids(mark) == []


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_cancelled_call_kills_the_command(root: Path, mode: str, sandbox: str) -> None:
    mark = marker()
    async with shell_client(root, mode, sandbox=sandbox) as client:
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await client.call_tool(
                    "exec_command",
                    {"cmd": f"sleep {mark} & sleep {mark}1", "yield_time_ms": 60_000},
                )

            tg.start_soon(run)
            assert await wait_until_present(mark)
            tg.cancel_scope.cancel()
        assert await wait_until_gone(mark) == []
        sessions, _ = await call(client, "list_sessions")
        assert sessions["sessions"] == []


async def test_background_jobs_do_not_outlive_their_command(root: Path) -> None:
    mark = marker()
    async with shell_client(root) as client:
        data, _ = await call(
            client,
            "exec_command",
            # `timeout` moves itself to a new process group: found through the session.
            cmd=f"sleep {mark} & timeout 100 sleep {mark}1 & echo left",
        )
        assert data["status"] == "exited"
        assert data["output"] == "left\n"
        assert await wait_until_gone(mark) == []


async def test_list_and_kill_sessions(root: Path, mode: str) -> None:
    mark = marker()
    async with shell_client(root, mode) as client:
        first, _ = await call(
            client, "exec_command", cmd=f"echo hi; sleep {mark}", yield_time_ms=200
        )
        second, _ = await call(client, "exec_command", cmd="sleep 0.05; echo done", yield_time_ms=0)
        with anyio.fail_after(15):
            while True:
                listing, text = await call(client, "list_sessions")
                if not any(s["running"] for s in listing["sessions"][1:]):
                    break
                await anyio.sleep(0.05)
        by_id = {s["session_id"]: s for s in listing["sessions"]}
        assert set(by_id) == {first["session_id"], second["session_id"]}
        assert by_id[first["session_id"]]["running"] is True
        assert by_id[first["session_id"]]["command"] == f"echo hi; sleep {mark}"
        assert by_id[second["session_id"]]["running"] is False
        assert by_id[second["session_id"]]["exit_code"] == 0
        assert by_id[second["session_id"]]["unread_bytes"] == 5
        assert listing["max_sessions"] == 64
        assert "2 of at most 64 sessions" in text

        killed, text = await call(client, "kill_session", session_id=first["session_id"])
        assert killed["status"] == "killed"
        assert killed["signal"] == "SIGTERM"
        assert "Stopped" in text
        assert live_pids(mark) == []
        error = await call_error(client, "kill_session", session_id=first["session_id"])
        assert "no session" in error

        # A finished session reports its exit (and unread output) once, then is gone.
        done, _ = await call(client, "write_stdin", session_id=second["session_id"])
        assert done["status"] == "exited"
        assert done["output"] == "done\n"
        listing, text = await call(client, "list_sessions")
        assert listing["sessions"] == []
        assert text.startswith("No sessions")


async def test_session_limit(root: Path) -> None:
    mark = marker()
    async with shell_client(root, max_sessions=2) as client:
        for _ in range(2):
            data, _ = await call(client, "exec_command", cmd=f"sleep {mark}", yield_time_ms=0)
            assert data["status"] == "running"
        error = await call_error(client, "exec_command", cmd="true")
        assert "limit is 2" in error
        assert "kill_session" in error
        await call(client, "kill_session", session_id=data["session_id"])
        data, _ = await call(client, "exec_command", cmd="echo ok")
        assert data["output"] == "ok\n"


async def test_finished_sessions_make_room(root: Path) -> None:
    async with shell_client(root, max_sessions=2) as client:
        for _ in range(2):
            await call(client, "exec_command", cmd="true", yield_time_ms=0)
        with anyio.fail_after(15):
            while any(s["running"] for s in (await call(client, "list_sessions"))[0]["sessions"]):
                await anyio.sleep(0.05)
        data, _ = await call(client, "exec_command", cmd="echo fits")
    assert data["output"] == "fits\n"


async def test_idle_sessions_expire(root: Path) -> None:
    mark = marker()
    async with shell_client(root, idle_timeout=0.4) as client:
        data, _ = await call(client, "exec_command", cmd=f"sleep {mark}", yield_time_ms=0)
        assert await wait_until_gone(mark) == []
        error = await call_error(client, "write_stdin", session_id=data["session_id"])
        assert "no session" in error


async def test_output_is_capped_head_and_tail(root: Path, mode: str) -> None:
    async with shell_client(root, mode) as client:
        data, text = await call(client, "exec_command", cmd="seq 1 100000", max_output_tokens=100)
    assert data["output_lines"] == 100_000
    assert data["output_bytes"] == len("".join(f"{i}\n" for i in range(1, 100_001)))
    assert data["omitted_bytes"] > 500_000
    assert data["output"].startswith("1\n2\n3\n")
    assert data["output"].endswith("99999\n100000\n")
    assert "omitted" in data["output"]
    assert len(data["output"]) < 600
    assert "100000 lines" in text


async def test_write_stdin_can_lower_the_cap(root: Path) -> None:
    async with shell_client(root) as client:
        data, _ = await call(client, "exec_command", cmd="sleep 0.3; seq 1 20000", yield_time_ms=0)
        data, _ = await call(
            client,
            "write_stdin",
            session_id=data["session_id"],
            yield_time_ms=5000,
            max_output_tokens=50,
        )
    assert data["status"] == "exited"
    assert data["output_lines"] == 20000
    assert len(data["output"].encode()) < 400
    assert data["output"].startswith("1\n")


async def test_one_gigabyte_of_output_stays_bounded(root: Path) -> None:
    # The server-memory side (peak RSS of a real server process) is in test_stdio.py.
    async with shell_client(root) as client:
        data, _ = await call(
            client,
            "exec_command",
            cmd="yes 'all work and no play' | head -c 1073741824",
            max_output_tokens=1000,
            yield_time_ms=120_000,
        )
    assert data["status"] == "exited"
    assert data["output_bytes"] == 1 << 30
    assert data["omitted_bytes"] > (1 << 30) - 5000
    assert len(data["output"]) < 5000
    assert data["output"].startswith("all work and no play\n")


async def test_binary_and_invalid_utf8_output(root: Path) -> None:
    async with shell_client(root) as client:
        data, _ = await call(
            client,
            "exec_command",
            cmd=r"printf 'ok \xff\xfe end\n'; printf 'nul\000byte\n'; "
            r"printf '\033[31mred\033[0m\n'",
        )
    out = data["output"].splitlines()
    assert out[0] == "ok \ufffd\ufffd end"
    assert out[1] == "nul\u2400byte"
    assert out[2] == "red"  # colour codes are removed
    assert any("not valid UTF-8" in note for note in data["notes"])


async def test_utf8_output_is_kept(root: Path) -> None:
    async with shell_client(root) as client:
        data, _ = await call(client, "exec_command", cmd="printf 'héllo wörld ✓\\n'")
    assert data["output"] == "héllo wörld ✓\n"
    assert data["notes"] == []


async def test_progress_bar_shows_its_final_state(root: Path) -> None:
    async with shell_client(root) as client:
        data, _ = await call(client, "exec_command", cmd=r"printf '10%%\r50%%\r100%%\ndone\r\n'")
    assert data["output"] == "100%\ndone\n"


async def test_workdir(root: Path, mode: str) -> None:
    (root / "sub").mkdir()
    outside = root.parent / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    async with shell_client(root, mode) as client:
        data, _ = await call(client, "exec_command", cmd="pwd", workdir="sub")
        assert data["output"] == f"{root / 'sub'}\n"
        data, _ = await call(client, "exec_command", cmd="pwd")
        assert data["output"] == f"{root}\n"
        for bad in (str(outside), "../outside", "link", "/etc"):
            error = await call_error(client, "exec_command", cmd="pwd", workdir=bad)
            assert "outside the workspace" in error, error
        error = await call_error(client, "exec_command", cmd="pwd", workdir="missing")
        assert "does not exist" in error
        (root / "file").write_text("x")
        error = await call_error(client, "exec_command", cmd="pwd", workdir="file")
        assert "not a directory" in error


async def test_empty_command_refused(root: Path) -> None:
    async with shell_client(root) as client:
        error = await call_error(client, "exec_command", cmd="   ")
    assert "empty" in error


async def test_progress_notifications_carry_the_latest_line(root: Path, mode: str) -> None:
    updates: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, message))

    async with shell_client(root, mode, progress_interval=0.05) as client:
        result = await client.call_tool(
            "exec_command",
            {"cmd": "for i in 1 2 3; do echo step $i; sleep 0.3; done; sleep 0.5"},
            progress_callback=on_progress,
        )
    assert not result.is_error
    messages = [m or "" for _, m in updates]
    assert messages, "no progress notifications"
    assert all(m.startswith("step ") for m in messages), messages
    steps = [int(m.split()[1]) for m in messages]
    assert steps == sorted(steps)
    assert steps[-1] == 3  # the latest line, still shown while the command sleeps
    assert len(set(steps)) == len(steps)  # sent when the line changes, not on every tick
    progress = [p for p, _ in updates]
    assert progress == sorted(progress)


async def test_no_progress_without_a_token(root: Path) -> None:
    # Nothing to assert on the wire here beyond "it still works": the SDK drops progress for
    # calls without a token, and the call must not fail because of it.
    async with shell_client(root, progress_interval=0.05) as client:
        data, _ = await call(client, "exec_command", cmd="echo a; sleep 0.3; echo b")
    assert data["output"] == "a\nb\n"


async def test_fifty_concurrent_commands(root: Path) -> None:
    results: dict[int, dict[str, object]] = {}
    async with shell_client(root) as client:

        async def one(i: int) -> None:
            results[i], _ = await call(client, "exec_command", cmd=f"sleep 0.2; echo {i}")

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(one, i)
    assert {i: r["output"] for i, r in results.items()} == {i: f"{i}\n" for i in range(50)}


async def test_tools_are_listed_with_annotations_and_schemas(root: Path, mode: str) -> None:
    async with shell_client(root, mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"exec_command", "write_stdin", "list_sessions", "kill_session"}
    exec_tool = tools["exec_command"]
    assert exec_tool.annotations is not None
    assert exec_tool.annotations.destructive_hint is True
    assert exec_tool.annotations.open_world_hint is True
    assert exec_tool.output_schema is not None
    assert "exit_code" in exec_tool.output_schema["properties"]
    params = exec_tool.input_schema["properties"]
    assert set(params) == {
        "cmd",
        "workdir",
        "timeout_ms",
        "yield_time_ms",
        "max_output_tokens",
        "tty",
        "sandbox_permissions",
        "justification",
    }
    assert params["yield_time_ms"]["default"] == 10_000
    assert set(tools["write_stdin"].input_schema["properties"]) >= {
        "session_id",
        "chars",
        "yield_time_ms",
    }
    assert tools["list_sessions"].annotations is not None
    assert tools["list_sessions"].annotations.read_only_hint is True
