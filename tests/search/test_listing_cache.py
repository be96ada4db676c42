"""find_files' listing cache with real inotify, a real rg and real trees.

rg is run through a wrapper script that logs every start, so a hit is proven by rg not having
run. A root's watch is built in the background; tests wait for it with ``cache.settle`` (the
server never does).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from servers.search import engine
from servers.search import watch as watch_module
from servers.search.engine import SearchError, Target
from servers.search.events import show
from servers.search.fuzzy import FileMatcher
from servers.search.listings import ListingCache
from servers.search.rg import Filters, find_rg
from tests.search.conftest import call, connect, write
from tests.support import stdio_client, text_of

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not watch_module.supported(), reason="needs Linux inotify"),
]


def rg_wrapper(directory: Path) -> tuple[Path, Path, Path]:
    """An ``rg`` that appends a line to a log for every run, runs the real rg, then a hook
    script if there is one (still within the run: the reader sees the end of the output only
    when the wrapper exits). Returns (wrapper, log, hook)."""
    log, hook, wrapper = directory / "rg.log", directory / "hook.sh", directory / "rg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo run >> '{log}'\n"
        f"'{find_rg()}' \"$@\"\n"
        "code=$?\n"
        f"if [ -f '{hook}' ]; then sh '{hook}'; fi\n"
        "exit $code\n"
    )
    wrapper.chmod(0o755)
    return wrapper, log, hook


@dataclass
class Lister:
    """engine.find_files on one root, with a cache (or none) and the logging rg."""

    root: Path
    cache: ListingCache | None
    rg: Path
    log: Path
    hook: Path

    @property
    def runs(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    async def files(self, pattern: str = "*", path: str = ".", **flags: Any) -> list[str]:
        matcher = FileMatcher(pattern, 0, 1000)
        await engine.find_files(
            str(self.rg),
            Filters(**flags),
            Target(self.root, path),
            matcher,
            deadline=anyio.current_time() + 30,
            cache=self.cache,
        )
        return [show(path) for path in matcher.page()]

    async def settle(self) -> None:
        assert self.cache is not None
        with anyio.fail_after(10):
            await self.cache.settle(self.root)

    async def hit(self, pattern: str = "*", path: str = ".", **flags: Any) -> list[str]:
        before = self.runs
        found = await self.files(pattern, path, **flags)
        assert self.runs == before, "rg ran: expected a cache hit"
        return found

    async def miss(self, pattern: str = "*", path: str = ".", **flags: Any) -> list[str]:
        before = self.runs
        found = await self.files(pattern, path, **flags)
        assert self.runs == before + 1, "rg did not run: expected a cache miss"
        return found

    async def warm(self, pattern: str = "*", path: str = ".", **flags: Any) -> list[str]:
        """Make the listing a stored one: the first call starts the watch (if none is
        ready), the next, once it is, stores its run; then the next hits."""
        await self.files(pattern, path, **flags)
        await self.settle()
        first = await self.files(pattern, path, **flags)
        assert await self.hit(pattern, path, **flags) == first
        return first


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = (tmp_path / "proj").resolve()
    write(root / "src" / "app.py", "x = 1\n")
    write(root / "src" / "util.py", "y = 2\n")
    write(root / "docs" / "guide.md", "# guide\n")
    write(root / ".hidden" / "secret.py", "")
    write(root / "notes.txt", "")
    (root / "empty").mkdir()
    (root / ".git").mkdir()  # rg applies .gitignore inside a repository (it only looks for .git)
    return root


@pytest.fixture
async def lister(root: Path, tmp_path: Path) -> AsyncIterator[Lister]:
    rg, log, hook = rg_wrapper(tmp_path)
    cache = ListingCache()
    yield Lister(root, cache, rg, log, hook)
    cache.close()


ALL = ["docs/guide.md", "notes.txt", "src/app.py", "src/util.py"]


async def test_first_call_misses_and_later_calls_hit(lister: Lister) -> None:
    assert await lister.miss() == ALL  # starts the watch; nothing stored yet
    await lister.settle()
    assert await lister.miss() == ALL  # the watch is ready: this run is stored
    for _ in range(3):
        assert await lister.hit() == ALL
    assert lister.cache is not None and lister.cache.hits == 3


async def test_without_a_cache_every_call_runs_rg(lister: Lister) -> None:
    lister.cache = None
    for _ in range(3):
        assert await lister.miss() == ALL


# -- changes that must show up in the next call ---------------------------------------------


async def test_new_file(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / "src" / "new.py", "")
    assert "src/new.py" in await lister.miss()
    assert "src/new.py" in await lister.hit()


async def test_deleted_file(lister: Lister, root: Path) -> None:
    await lister.warm()
    (root / "src" / "util.py").unlink()
    assert await lister.miss() == ["docs/guide.md", "notes.txt", "src/app.py"]


async def test_renamed_file(lister: Lister, root: Path) -> None:
    await lister.warm()
    (root / "notes.txt").rename(root / "renamed.txt")
    assert await lister.miss() == ["docs/guide.md", "renamed.txt", "src/app.py", "src/util.py"]


async def test_new_directory_with_a_file(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / "pkg" / "deep" / "mod.py", "")
    assert "pkg/deep/mod.py" in await lister.miss()  # the watch is rebuilt meanwhile
    # and the new directory is watched from then on
    assert await lister.warm() == [*ALL[:2], "pkg/deep/mod.py", *ALL[2:]]
    write(root / "pkg" / "deep" / "other.py", "")
    assert "pkg/deep/other.py" in await lister.miss()


async def test_directory_moved_in(lister: Lister, root: Path, tmp_path: Path) -> None:
    await lister.warm()
    write(tmp_path / "outside" / "moved.py", "")
    (tmp_path / "outside").rename(root / "inside")
    assert "inside/moved.py" in await lister.miss()


async def test_file_in_a_directory_empty_at_build_time(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / "empty" / "now.txt", "")
    assert "empty/now.txt" in await lister.miss()


async def test_gitignore_hides_a_file_and_editing_it_back(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / ".gitignore", "notes.txt\n")
    assert "notes.txt" not in await lister.miss()  # a new ignore file: the watch is rebuilt
    assert "notes.txt" not in await lister.warm()
    write(root / ".gitignore", "")
    assert "notes.txt" in await lister.miss()


def make_git_repository(root: Path) -> None:
    """Turn the test tree (whose ``.git`` is an empty directory) into a real repository."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    shutil.rmtree(root / ".git")
    subprocess.run(["git", "init", "-q", str(root)], check=True)


async def test_gitignore_in_a_real_git_repository(lister: Lister, root: Path) -> None:
    make_git_repository(root)
    await lister.warm()
    write(root / "src" / ".gitignore", "util.py\n")
    assert await lister.miss() == ["docs/guide.md", "notes.txt", "src/app.py"]


async def test_git_index_churn_keeps_the_cache(lister: Lister, root: Path) -> None:
    make_git_repository(root)
    await lister.warm()
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    assert await lister.hit() == ALL


async def test_dot_ignore_hides_a_file_and_editing_it_back(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / "docs" / ".ignore", "guide.md\n")
    assert "docs/guide.md" not in await lister.miss()
    assert "docs/guide.md" not in await lister.warm()
    write(root / "docs" / ".ignore", "# nothing\n")
    assert "docs/guide.md" in await lister.miss()


async def test_git_info_exclude(lister: Lister, root: Path) -> None:
    write(root / ".git" / "info" / "exclude", "")
    await lister.warm()
    write(root / ".git" / "info" / "exclude", "*.md\n")
    assert "docs/guide.md" not in await lister.miss()


async def test_ignore_file_in_an_ancestor_of_the_root(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root.parent / ".ignore", "notes.txt\n")
    assert "notes.txt" not in await lister.miss()


async def test_global_git_ignore(
    lister: Lister, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    await lister.warm()
    write(tmp_path / "home" / ".config" / "git" / "ignore", "notes.txt\n")
    assert "notes.txt" not in await lister.miss()
    await lister.hit()


async def test_directory_permissions(lister: Lister, root: Path) -> None:
    await lister.warm()
    (root / "src").chmod(0)
    try:
        found = await lister.miss()
        if os.geteuid() != 0:  # root reads it anyway
            assert "src/app.py" not in found
    finally:
        (root / "src").chmod(0o755)
    await lister.settle()
    assert "src/app.py" in await lister.miss()


async def test_a_symlink_replacing_a_listed_file(lister: Lister, root: Path) -> None:
    # rg lists regular files only: the path leaves the listing although a name is still there
    await lister.warm()
    (root / "link").symlink_to(root / "docs")
    (root / "link").replace(root / "notes.txt")
    assert "notes.txt" not in await lister.miss()


# -- changes that must not cost a run ---------------------------------------------------------


async def test_editing_a_file_keeps_the_cache(lister: Lister, root: Path) -> None:
    await lister.warm()
    with (root / "src" / "app.py").open("a") as f:
        f.write("z = 3\n")
    (root / "notes.txt").write_text("rewritten\n")
    os.utime(root / "docs" / "guide.md")
    assert await lister.hit() == ALL


async def test_saving_through_a_temporary_file_keeps_the_cache(lister: Lister, root: Path) -> None:
    # how editors and apply_patch save: write beside, rename over the original
    await lister.warm()
    for name in ("src/app.py", "notes.txt"):
        temp = write(root / Path(name).parent / f".toolwire-{Path(name).name}.tmp", "new\n")
        temp.replace(root / name)
    assert await lister.hit() == ALL


async def test_a_file_created_and_removed_between_calls(lister: Lister, root: Path) -> None:
    await lister.warm()
    write(root / "scratch.txt", "").unlink()
    assert await lister.hit() == ALL


# -- what is cached, and under which key ------------------------------------------------------


async def test_variants_are_separate_entries(lister: Lister) -> None:
    plain = await lister.warm()
    hidden = await lister.warm(hidden=True)
    no_ignore = await lister.warm(no_ignore=True)
    py = await lister.warm("*.py")
    anchored = await lister.warm("src/*.py")
    sub = await lister.warm("*", "src")
    assert ".hidden/secret.py" in hidden and ".hidden/secret.py" not in plain
    assert py == ["src/app.py", "src/util.py"] == anchored == sub
    assert no_ignore == plain
    assert lister.cache is not None and len(lister.cache) == 6
    # fuzzy queries are not on rg's command line: they share one listing
    await lister.warm("app")
    assert await lister.hit("util") == ["src/util.py"]
    assert len(lister.cache) == 7


async def test_a_change_outside_a_sub_path_listing_keeps_it(lister: Lister, root: Path) -> None:
    await lister.warm("*", "src")
    write(root / "docs" / "more.md", "")
    assert await lister.hit("*", "src") == ["src/app.py", "src/util.py"]
    write(root / "src" / "more.py", "")
    assert "src/more.py" in await lister.miss("*", "src")


async def test_follow_is_never_cached(lister: Lister) -> None:
    await lister.warm()
    for _ in range(3):
        assert await lister.miss(follow=True) == ALL


@pytest.mark.parametrize("path", [".git", "./src", "src/", "src/../src"])
async def test_paths_not_as_the_watch_names_them_are_never_cached(
    lister: Lister, root: Path, path: str
) -> None:
    # inside .git (not watched in full), or spelled otherwise than the watch spells paths
    write(root / ".git" / "HEAD", "ref: refs/heads/main\n")
    await lister.files()
    await lister.settle()
    first = await lister.miss("*", path)
    assert first == await lister.miss("*", path)
    assert first and all(p.endswith(("HEAD", ".py")) for p in first)


async def test_a_listing_over_the_size_limit_is_not_stored(lister: Lister, root: Path) -> None:
    lister.cache = ListingCache(max_entry_bytes=40)
    await lister.files("*.py")
    await lister.settle()
    await lister.miss("*.py")  # "src/app.py\0src/util.py\0": 23 bytes, stored
    await lister.hit("*.py")
    for _ in range(2):
        await lister.miss()  # the whole listing: 44 bytes
    lister.cache.close()


async def test_least_recently_used_listings_go_first(lister: Lister) -> None:
    lister.cache = ListingCache(max_entries=2)
    await lister.warm("*.py")
    await lister.warm("*.md")
    await lister.hit("*.py")  # now *.md is the oldest
    await lister.warm("*.txt")
    await lister.hit("*.py")
    await lister.miss("*.md")
    assert len(lister.cache) == 2
    lister.cache.close()


async def test_too_many_directories_leave_the_root_uncached(lister: Lister, root: Path) -> None:
    lister.cache = cache = ListingCache(max_dirs=3)
    await lister.miss()
    await lister.settle()
    for _ in range(3):
        assert await lister.miss() == ALL
    assert cache.unwatchable(root) == "more than 3 directories"
    cache.close()


async def test_without_inotify_every_call_runs_rg(
    lister: Lister, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> int:
        raise OSError(errno.ENOSYS, "inotify is not available on this platform")

    monkeypatch.setattr(watch_module, "inotify_init", unavailable)
    await lister.miss()
    await lister.settle()
    for _ in range(3):
        assert await lister.miss() == ALL
    write(root / "late.txt", "")
    assert "late.txt" in await lister.miss()
    monkeypatch.setattr(watch_module, "supported", lambda: False)  # and not Linux at all
    lister.cache = ListingCache()
    for _ in range(2):
        assert "late.txt" in await lister.miss()
    assert lister.cache.state(root) is None


@pytest.mark.parametrize(
    ("change", "seen"),
    [
        ("touch '{root}/during.txt'", "during.txt"),
        ("mkdir '{root}/newdir' && touch '{root}/newdir/during.txt'", "newdir/during.txt"),
        ("echo notes.txt > '{root}/.ignore'", None),
    ],
    ids=["file", "directory", "ignore-file"],
)
async def test_a_change_after_rg_listed_the_tree_but_before_the_run_ended(
    lister: Lister, root: Path, change: str, seen: str | None
) -> None:
    await lister.files()
    await lister.settle()
    lister.hook.write_text(change.format(root=root) + "\n")
    assert await lister.miss() == ALL  # rg had listed the tree already: this run is stale
    lister.hook.unlink()
    found = await lister.miss()
    if seen is None:
        assert "notes.txt" not in found
    else:
        assert seen in found


async def test_a_file_removed_after_rg_listed_it(lister: Lister) -> None:
    await lister.files()
    await lister.settle()
    lister.hook.write_text(f"rm '{lister.root}/notes.txt'\n")
    assert "notes.txt" in await lister.miss()  # stored, with the version from before the run
    lister.hook.unlink()
    assert "notes.txt" not in await lister.miss()
    assert "notes.txt" not in await lister.hit()


async def test_errors_and_warnings_are_replayed(lister: Lister) -> None:
    await lister.files()
    await lister.settle()
    for _ in range(2):
        with pytest.raises(SearchError, match="glob"):
            await lister.files("{a")
    before = lister.runs
    with pytest.raises(SearchError, match="glob"):
        await lister.files("{a")
    assert lister.runs == before


async def test_large_listings_are_replayed_in_a_thread(lister: Lister) -> None:
    lister.cache = ListingCache(inline_bytes=0)
    assert await lister.warm("app") == ["src/app.py"]
    assert await lister.hit("util") == ["src/util.py"]
    lister.cache.close()


async def test_a_rebuilt_watch_drops_the_roots_listings(lister: Lister, root: Path) -> None:
    await lister.warm("*.py")
    await lister.warm("*.md")
    (root / "newdir").mkdir()
    await lister.miss("*.py")  # broken: both listings go, a new watch is built
    assert lister.cache is not None and len(lister.cache) == 0
    await lister.settle()
    await lister.miss("*.md")
    await lister.hit("*.md")


# -- through MCP ------------------------------------------------------------------------------


def inotify_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own among them)
            count += "inotify" in os.readlink(f"/proc/self/fd/{fd}")
    return count


async def test_the_servers_lifespan_closes_the_watches(root: Path) -> None:
    before = inotify_fds()
    async with connect(root) as client:
        await call(client, "find_files", pattern="*.py")
        with anyio.fail_after(10):
            while inotify_fds() == before:
                await anyio.sleep(0.01)
    with anyio.fail_after(10):  # a build still running closes its descriptor when it ends
        while inotify_fds() != before:
            await anyio.sleep(0.01)


async def test_over_stdio_a_new_file_shows_up(root: Path, tmp_path: Path) -> None:
    rg, log, _ = rg_wrapper(tmp_path)

    def runs() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    args = ("--root", str(root), "--rg", str(rg))
    async with stdio_client("servers.search", *args) as client:

        async def find() -> list[str]:
            result = await client.call_tool("find_files", {"pattern": "*.py"})
            assert not result.is_error
            return text_of(result).splitlines()

        with anyio.fail_after(20):  # until a call is answered without rg: a stored listing
            while True:
                before = runs()
                assert await find() == ["src/app.py", "src/util.py"]
                if runs() == before:
                    break
                await anyio.sleep(0.02)
        write(root / "src" / "created.py", "")
        before = runs()
        assert await find() == ["src/app.py", "src/created.py", "src/util.py"]
        assert runs() == before + 1

    async with stdio_client("servers.search", *args, "--no-listing-cache") as client:
        before = runs()
        for _ in range(4):
            result = await client.call_tool("find_files", {"pattern": "*.py"})
            assert text_of(result).splitlines() == ["src/app.py", "src/created.py", "src/util.py"]
        assert runs() == before + 4
