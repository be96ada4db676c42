"""The bubblewrap sandbox: what commands may touch, and what happens without bwrap."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from servers.common.workspace import Workspace
from servers.shell import ShellSettings, create_server
from servers.shell.sandbox import (
    SandboxUnavailableError,
    bwrap_argv,
    host_tmp_passthrough,
    probe_bwrap,
)
from tests.shell.conftest import call, call_error, needs_bwrap, shell_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A writable directory outside the workspace and outside /tmp (which the sandbox hides)."""
    path = Path(tempfile.mkdtemp(prefix="toolwire-shell-test-", dir="/var/tmp"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@needs_bwrap
async def test_writes_outside_the_workspace_fail(root: Path, host_dir: Path, mode: str) -> None:
    async with shell_client(root, mode, sandbox="workspace-write") as client:
        data, _ = await call(client, "exec_command", cmd=f"echo x > {host_dir}/escape")
    assert data["exit_code"] != 0
    assert "Read-only file system" in data["output"]
    assert not (host_dir / "escape").exists()


@needs_bwrap
async def test_writes_inside_the_workspace_succeed(root: Path, mode: str) -> None:
    async with shell_client(root, mode, sandbox="workspace-write") as client:
        data, _ = await call(
            client, "exec_command", cmd="mkdir -p a/b && echo hi > a/b/file && cat a/b/file"
        )
    assert data["exit_code"] == 0, data["output"]
    assert (root / "a" / "b" / "file").read_text() == "hi\n"


@needs_bwrap
async def test_git_directory_is_read_only(root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    async with shell_client(root, sandbox="workspace-write") as client:
        data, _ = await call(client, "exec_command", cmd="echo evil > .git/HEAD")
        assert data["exit_code"] != 0
        assert "Read-only file system" in data["output"]
        data, _ = await call(client, "exec_command", cmd="touch .git/hooks-new")
        assert data["exit_code"] != 0
        data, _ = await call(client, "exec_command", cmd="echo fine > tracked.txt")
        assert data["exit_code"] == 0
    assert (root / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (root / ".git" / "hooks-new").exists()
    assert (root / "tracked.txt").exists()


@needs_bwrap
async def test_read_only_mode_forbids_workspace_writes(root: Path) -> None:
    (root / "existing").write_text("keep\n")
    async with shell_client(root, sandbox="read-only") as client:
        data, _ = await call(client, "exec_command", cmd="cat existing; echo x > existing")
        scratch, _ = await call(
            client, "exec_command", cmd="echo t > /tmp/scratch && cat /tmp/scratch"
        )
    assert data["output"].startswith("keep\n")
    assert "Read-only file system" in data["output"]
    assert data["sandbox"] == "read-only"
    assert (root / "existing").read_text() == "keep\n"
    assert scratch["output"] == "t\n"  # a private /tmp still works


@needs_bwrap
async def test_private_tmp(root: Path) -> None:
    name = f"toolwire-private-{root.parent.name}"
    async with shell_client(root, sandbox="workspace-write") as client:
        data, _ = await call(client, "exec_command", cmd=f"echo x > /tmp/{name} && ls /tmp")
    assert data["exit_code"] == 0
    assert not (Path("/tmp") / name).exists()


@needs_bwrap
async def test_tools_installed_under_tmp_stay_usable(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtual environment under /tmp (a CI clone's .venv) on PATH is visible read-only in the
    private /tmp; the rest of the host's /tmp stays hidden."""
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        venv = Path(scratch) / "venv"
        (venv / "bin").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        tool = venv / "bin" / "toolwire-test-tool"
        tool.write_text("#!/bin/sh\necho tool ran\n")
        tool.chmod(0o755)
        (Path(scratch) / "secret").write_text("hidden\n")
        monkeypatch.setenv("PATH", f"{venv / 'bin'}:/usr/bin:/bin")
        host_tmp_passthrough.cache_clear()
        try:
            async with shell_client(root, sandbox="workspace-write") as client:
                ran, _ = await call(client, "exec_command", cmd=f"{tool}")
                secret, _ = await call(client, "exec_command", cmd=f"cat {scratch}/secret")
                write, _ = await call(client, "exec_command", cmd=f"touch {venv}/new")
        finally:
            host_tmp_passthrough.cache_clear()
        assert ran["exit_code"] == 0 and ran["output"] == "tool ran\n", ran
        assert secret["exit_code"] != 0
        assert write["exit_code"] != 0
        assert not (venv / "new").exists()


@pytest.mark.parametrize(
    ("sandbox", "reachable"),
    [
        pytest.param("danger-full-access", True, id="unsandboxed"),
        pytest.param("workspace-write", False, id="bwrap", marks=needs_bwrap),
    ],
)
async def test_loopback_server_outside_the_sandbox(
    root: Path, sandbox: str, reachable: bool
) -> None:
    accepted: list[bytes] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: SocketStream) -> None:
        async with stream:
            accepted.append(await stream.receive())

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        async with shell_client(root, sandbox=sandbox) as client:
            data, _ = await call(
                client,
                "exec_command",
                cmd=f"echo ping > /dev/tcp/127.0.0.1/{port} && echo connected",
                timeout_ms=10_000,
            )
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()
    if reachable:
        assert data["output"] == "connected\n"
        assert accepted == [b"ping\n"]
    else:
        assert data["exit_code"] != 0
        assert "Connection refused" in data["output"]
        assert accepted == []


@needs_bwrap
async def test_escalation_refused_without_allow_escalation(root: Path, host_dir: Path) -> None:
    async with shell_client(root, sandbox="workspace-write") as client:
        error = await call_error(
            client,
            "exec_command",
            cmd=f"touch {host_dir}/escalated",
            sandbox_permissions="require_escalated",
            justification="need to write there",
        )
    assert "--allow-escalation" in error
    assert not (host_dir / "escalated").exists()


@needs_bwrap
async def test_escalation_with_allow_escalation(root: Path, host_dir: Path) -> None:
    async with shell_client(root, sandbox="workspace-write", allow_escalation=True) as client:
        data, _text = await call(
            client,
            "exec_command",
            cmd=f"touch {host_dir}/escalated",
            sandbox_permissions="require_escalated",
            justification="install a tool",
        )
        normal, _ = await call(client, "exec_command", cmd=f"touch {host_dir}/normal")
    assert data["exit_code"] == 0
    assert data["sandbox"] == "danger-full-access"
    assert any("install a tool" in note for note in data["notes"])
    assert (host_dir / "escalated").exists()
    assert normal["sandbox"] == "workspace-write"  # one command only
    assert normal["exit_code"] != 0
    assert not (host_dir / "normal").exists()


async def test_escalation_without_a_sandbox_is_a_no_op(root: Path) -> None:
    async with shell_client(root, sandbox="danger-full-access") as client:
        data, _ = await call(
            client, "exec_command", cmd="true", sandbox_permissions="require_escalated"
        )
    assert data["sandbox"] == "danger-full-access"
    assert any("no sandbox to leave" in note for note in data["notes"])


def test_missing_bwrap_refuses_sandboxed_modes(root: Path) -> None:
    for mode in ("read-only", "workspace-write"):
        settings = ShellSettings(
            workspace=Workspace.from_paths([root]), sandbox=mode, bwrap="/nonexistent/bwrap"
        )
        with pytest.raises(SandboxUnavailableError, match="--sandbox-fallback=unsandboxed"):
            create_server(settings)


async def test_fallback_runs_unsandboxed_and_says_so(root: Path) -> None:
    async with shell_client(
        root,
        sandbox="workspace-write",
        bwrap="/nonexistent/bwrap",
        sandbox_fallback="unsandboxed",
    ) as client:
        data, text = await call(client, "exec_command", cmd="echo hi")
        listing, _ = await call(client, "list_sessions")
    assert data["output"] == "hi\n"
    assert data["sandbox"] == "danger-full-access"
    assert listing["sandbox"] == "danger-full-access"
    assert any("'workspace-write' is unavailable" in n for n in data["notes"])
    assert "[sandbox: danger-full-access]" in text


def test_instructions_state_the_real_mode(root: Path) -> None:
    server = create_server(
        ShellSettings(
            workspace=Workspace.from_paths([root]),
            bwrap="/nonexistent/bwrap",
            sandbox_fallback="unsandboxed",
        )
    )
    assert server.instructions is not None
    assert "UNSANDBOXED" in server.instructions
    assert "/nonexistent/bwrap not found" in server.instructions  # the reason, not just the mode


def test_probe_reports_why_bwrap_fails(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    probe = probe_bwrap(str(fake))
    assert not probe.ok
    assert "No permissions to create new namespace" in probe.reason


def test_bwrap_argv_binds_roots_after_tmp_and_git_read_only(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
    (a / ".git").mkdir()
    argv = bwrap_argv("/usr/bin/bwrap", "workspace-write", [a, b], a / "sub")
    text = " ".join(argv)
    assert text.startswith("/usr/bin/bwrap --ro-bind / / ")
    assert "--unshare-net" in argv
    assert "--unshare-pid" in argv
    assert "--die-with-parent" in argv
    assert text.index("--tmpfs /tmp") < text.index(f"--bind {a} {a}")
    assert text.index(f"--bind {a} {a}") < text.index(f"--ro-bind {a}/.git {a}/.git")
    assert f"--bind {b} {b}" in text
    assert f"{b}/.git" not in text
    assert argv[-3:] == ["--chdir", str(a / "sub"), "--"]
    read_only = " ".join(bwrap_argv("/usr/bin/bwrap", "read-only", [a], a))
    assert f"--ro-bind {a} {a}" in read_only
    assert f"--bind {a}" not in read_only
