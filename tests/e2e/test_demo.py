"""``toolwire demo`` (what ``make demo`` runs): the agent fixes a real failing test with all
five bundled servers, on a copy; the checked-in repository keeps its bug."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import DEMO_REPO

REPO = Path(__file__).resolve().parents[2]


def test_demo_fixes_the_failing_test_on_a_copy(env: Path) -> None:
    source = (DEMO_REPO / "textstats" / "words.py").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    notices = [e["text"] for e in events if e["type"] == "notice"]
    assert any("scripted model server" in n and "not an AI" in n for n in notices)
    assert events[0]["type"] == "notice" and events[-1]["type"] == "run.completed"
    started = next(e for e in events if e["type"] == "session.started")
    assert started["scripted"] is True
    tools = [e for e in events if e["type"] == "tool.completed"]
    names = {t["name"] for t in tools}
    # files, search, plan, patch and shell all took part
    assert {"read_file", "grep", "find_files", "update_plan", "apply_patch", "exec_command"} <= (
        names
    )
    assert not any(t["is_error"] for t in tools), [t for t in tools if t["is_error"]]
    runs = [t["output"] for t in tools if t["name"] == "exec_command"]
    assert "2 failed" in runs[0] and "3 passed" in runs[-1]
    assert "verified independently" in done.stderr and "3 passed" in done.stderr
    assert (DEMO_REPO / "textstats" / "words.py").read_text() == source  # untouched
    assert "_WORD.findall(text)" in source
