"""One real tool call per bundled server that must succeed on a fresh workspace: used by the
Inspector tests and the ``toolwire call`` tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATCH = "*** Begin Patch\n*** Add File: added.txt\n+written by apply_patch\n*** End Patch\n"


@dataclass(frozen=True)
class Sample:
    """A real call that must succeed on a fresh workspace, and text its result must contain."""

    tool: str
    arguments: dict[str, Any]
    expect: str
    options: tuple[str, ...] = field(default=())
    """Extra server options; ``{tmp}`` is replaced by a scratch directory outside the root."""


SAMPLES: dict[str, Sample] = {
    "files": Sample("read_file", {"path": "hello.txt"}, "hello from toolwire"),
    "plan": Sample(
        "update_plan",
        {"plan": [{"step": "ship the release", "status": "in_progress"}]},
        "ship the release",
        ("--state-file", "{tmp}/plan.json"),
    ),
    "search": Sample("grep", {"pattern": "hello from"}, "hello.txt"),
    "patch": Sample("apply_patch", {"input": PATCH}, "added.txt"),
    "shell": Sample("exec_command", {"cmd": "echo shell-says-hi"}, "shell-says-hi"),
}


def workspace(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "hello.txt").write_text("hello from toolwire\n", encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return root, scratch
