"""Tell subscribers when a file they subscribed to changes (watchfiles under the hood).

Only the directories holding subscribed files are watched, and the watch is rebuilt whenever the
set of subscriptions changes; parent directories rather than the files themselves are watched
so that editors and our own patch server, which replace files by renaming, are still seen.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio
from watchfiles import awatch

from servers.common.subscriptions import ResourceSubscriptions


async def watch_subscribed_files(
    subs: ResourceSubscriptions, path_of: Callable[[str], str]
) -> None:
    """Run until cancelled, publishing ``resources/updated`` for changed subscribed files."""
    while True:
        changed = subs.next_change()  # before reading the interest: no change can slip between
        wanted, dirs = _watch_targets(subs.interest, path_of)
        if not dirs:
            await changed.wait()
            continue
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def stop_on_change(
                event: anyio.Event = stop, change: anyio.Event = changed
            ) -> None:
                await change.wait()
                event.set()

            tg.start_soon(stop_on_change)
            async for changes in awatch(
                *dirs, stop_event=stop, debounce=100, step=20, recursive=False
            ):
                for uri in sorted({wanted[p] for _, p in changes if p in wanted}):
                    await subs.publish(uri)
            tg.cancel_scope.cancel()


def _watch_targets(
    uris: frozenset[str], path_of: Callable[[str], str]
) -> tuple[dict[str, str], list[str]]:
    """Map each subscribed file's real path to its URI, and list the directories to watch."""
    wanted: dict[str, str] = {}
    for uri in uris:
        try:
            wanted[os.path.realpath(path_of(uri))] = uri
        except ValueError:
            continue
    dirs = sorted({str(Path(p).parent) for p in wanted if Path(p).parent.is_dir()})
    return wanted, dirs
