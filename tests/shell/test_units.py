"""The shell server's plain functions: environment policy, output cleaning, login snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.shell.environment import (
    EnvPolicy,
    command_environment,
    filter_captured,
    inherited_environment,
    parse_assignment,
)
from servers.shell.launch import find_shell
from servers.shell.output import SessionOutput, sanitize
from tests.shell.conftest import call, shell_client

SOURCE = {
    "PATH": "/bin",
    "HOME": "/home/u",
    "OPENAI_API_KEY": "k",
    "aws_secret_access_key": "s",
    "GITHUB_TOKEN": "t",
    "MONKEY_BUSINESS": "contains KEY too",
    "EDITOR": "vi",
}


def test_default_policy_drops_secret_names_case_insensitively() -> None:
    env = inherited_environment(EnvPolicy(), SOURCE)
    assert env == {"PATH": "/bin", "HOME": "/home/u", "EDITOR": "vi"}


def test_keep_exclude_and_set() -> None:
    policy = EnvPolicy(keep=("github_*",), exclude=("EDIT*",), set={"PAGER": "less", "X": "1"})
    env = inherited_environment(policy, SOURCE)
    assert env == {"PATH": "/bin", "HOME": "/home/u", "GITHUB_TOKEN": "t"}
    full = command_environment(env, policy, tty=False, sandboxed=False)
    assert full["TERM"] == "dumb"
    assert full["GIT_PAGER"] == "cat"
    assert full["PAGER"] == "less"  # explicit settings win over the fixed ones
    assert full["X"] == "1"
    assert "TMPDIR" not in full


def test_inherit_core_and_none() -> None:
    assert inherited_environment(EnvPolicy(inherit="core"), SOURCE) == {
        "PATH": "/bin",
        "HOME": "/home/u",
    }
    assert inherited_environment(EnvPolicy(inherit="none"), SOURCE) == {}


def test_command_environment_for_tty_and_sandbox() -> None:
    env = command_environment({"TMPDIR": "/host/tmp"}, EnvPolicy(), tty=True, sandboxed=True)
    assert env["TERM"] == "xterm-256color"
    assert env["TMPDIR"] == "/tmp"


def test_captured_login_environment_is_filtered_too() -> None:
    captured = {"PATH": "/p", "PWD": "/x", "SHLVL": "2", "_": "/usr/bin/env", "NPM_TOKEN": "t"}
    assert filter_captured(EnvPolicy(), captured) == {"PATH": "/p"}


def test_parse_assignment() -> None:
    assert parse_assignment("A=b=c") == ("A", "b=c")
    assert parse_assignment("EMPTY=") == ("EMPTY", "")
    for bad in ("novalue", "=x"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            parse_assignment(bad)


def test_find_shell() -> None:
    assert find_shell(None, {"SHELL": "/usr/bin/fish"}).endswith(("bash", "sh"))
    assert find_shell("sh", {}).endswith("/sh")
    with pytest.raises(ValueError, match="not found"):
        find_shell("no-such-shell", {})


def test_sanitize() -> None:
    assert sanitize("\x1b[1;32mgreen\x1b[0m plain") == "green plain"
    assert sanitize("\x1b]0;title\x07text") == "text"
    assert sanitize("a\r\nb\r\n") == "a\nb\n"
    assert sanitize("10%\r20%\r100%\nnext") == "100%\nnext"
    assert sanitize("trailing\r") == "trailing"
    assert sanitize("tab\tand\x00nul\x7f") == "tab\tand\u2400nul\u2421"


def test_session_output_latest_line_and_pieces() -> None:
    out = SessionOutput(max_bytes=64)
    out.feed(b"first line\nsecond")
    assert out.latest_line() == "second"
    out.feed(b" half\n\n")
    assert out.latest_line() == "second half"
    piece = out.take()
    assert piece.text == "first line\nsecond half\n\n"
    assert (piece.total_bytes, piece.total_lines, piece.omitted_bytes) == (24, 3, 0)
    assert out.unread_bytes == 0
    out.feed(b"".join(b"line %d\n" % i for i in range(1000)))
    piece = out.take()
    assert piece.total_lines == 1000
    assert piece.text.startswith("line 0\n")
    assert piece.text.endswith("line 999\n")
    assert "omitted" in piece.text
    assert piece.omitted_bytes > 6000
    assert out.total_bytes == 24 + piece.total_bytes


def test_multibyte_characters_cut_at_the_boundary_are_not_reported_as_binary() -> None:
    out = SessionOutput(max_bytes=101)
    out.feed("é".encode() * 5000)
    piece = out.take()
    assert piece.notes == []
    assert "\ufffd" not in piece.text


@pytest.mark.anyio
async def test_login_snapshot_uses_the_profile_once(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bash_profile").write_text(
        "export FROM_PROFILE=yes\nexport PROFILE_TOKEN=secret\n"
        'echo noise-from-profile\necho sourced >> "$HOME/count"\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    async with shell_client(root, login_shell="snapshot") as client:
        for _ in range(3):
            data, _ = await call(
                client, "exec_command", cmd="echo ${FROM_PROFILE-unset} ${PROFILE_TOKEN-unset}"
            )
            assert data["output"] == "yes unset\n"
    assert (home / "count").read_text() == "sourced\n"


@pytest.mark.anyio
async def test_login_always_and_never(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bash_profile").write_text("export FROM_PROFILE=yes\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    async with shell_client(root, login_shell="always") as client:
        data, _ = await call(client, "exec_command", cmd="echo ${FROM_PROFILE-unset}")
        assert data["output"] == "yes\n"
    async with shell_client(root, login_shell="never") as client:
        data, _ = await call(client, "exec_command", cmd="echo ${FROM_PROFILE-unset}")
        assert data["output"] == "unset\n"


@pytest.mark.anyio
async def test_broken_profile_falls_back_to_the_inherited_environment(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bash_profile").write_text("exit 3\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.setenv("INHERITED_VAR", "here")
    async with shell_client(root, login_shell="snapshot") as client:
        data, _ = await call(client, "exec_command", cmd="echo $INHERITED_VAR")
        again, _ = await call(client, "exec_command", cmd="true")
    assert data["output"] == "here\n"
    assert any("login shell environment unavailable" in note for note in data["notes"])
    assert again["notes"] == []  # said once
