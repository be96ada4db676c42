"""SIGKILL at random points of a multi-file commit: no file is ever half-written, and recovery
brings the whole tree back to exactly the old state or exactly the new one.

Each round starts ``tests.patch.crash_child`` on a fresh tree, waits for it to say it is about to
commit, sleeps a delay spread over the commit's measured duration, and kills it with SIGKILL.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from servers.common.atomic import TEMP_PREFIX
from servers.patch.apply import recover
from tests.patch.conftest import tree
from tests.patch.crash_child import new_tree, old_tree
from tests.support import REPO

ROUNDS = 30


def make_tree(root: Path) -> None:
    for name, data in old_tree().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def files(root: Path) -> dict[str, bytes]:
    return {name: data for name, data in tree(root).items() if data is not None}


def start_child(root: Path, journal: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.patch.crash_child", str(root), str(journal)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def commit_seconds(tmp_path: Path) -> float:
    """How long one uninterrupted commit takes here, so the kills can be spread across it."""
    root = tmp_path / "calibrate"
    make_tree(root)
    proc = start_child(root, tmp_path / "calibrate-journal")
    out, _ = proc.communicate(timeout=30)
    assert files(root) == new_tree()
    return float(out.split()[-1])


def test_sigkill_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    old, new = old_tree(), new_tree()
    window = commit_seconds(tmp_path) * 1.3
    rng = random.Random(4)
    outcomes = {"old": 0, "new": 0, "recovered": 0}
    for round_number in range(ROUNDS):
        root, journal = tmp_path / f"r{round_number}", tmp_path / f"j{round_number}"
        make_tree(root)
        proc = start_child(root, journal)
        delay = window * (round_number + rng.random()) / ROUNDS  # stratified over the window
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()  # reaped: its pid no longer counts as alive

        # Right after the kill, before any recovery: each target is entirely old or new.
        for name in old.keys() | new.keys():
            path = root / name
            data = path.read_bytes() if path.exists() else None
            assert data in (old.get(name), new.get(name)), f"{name} is half-written"

        interrupted = any(journal.glob("*.json"))
        recover(journal)
        after = files(root)
        assert after in (old, new), "the tree is neither all old nor all new"
        assert not [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]
        assert not any(journal.glob("*")), "recovery left a journal behind"
        if after == old:
            assert not any(root.glob("add")), "directories created by the patch stayed"
        outcomes["recovered" if interrupted else ("new" if after == new else "old")] += 1
    assert outcomes["recovered"] > 0, f"no kill landed inside a commit: {outcomes}"
