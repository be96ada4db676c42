"""``toolwire demo`` (``make demo``): watch the agent fix a failing test, offline.

A copy of ``examples/demo_repo`` (a small package with a real failing test) goes into a
temporary directory; the five bundled tool servers start on it as real stdio processes; and
the agent loop runs against toolwire's scripted model server, which plays a model that runs
the tests, finds the code, reads it, plans, patches and runs the tests again. The model is a
script (and the demo says so first thing); the tool calls, the patch and the test runs are
real. At the end the demo runs the tests once more itself, so the last word is pytest's,
not the script's. The checked-in repository is never modified.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from agent.cli.run import EXIT_FAILED, EXIT_OK, Plan, add_common_arguments, execute

DEMO_REPO = Path(__file__).resolve().parents[2] / "examples" / "demo_repo"
TASK = "The tests of this repository fail. Find out why and fix the code (not the tests)."

HEADER = (
    "toolwire demo: the 'model' below is toolwire's scripted model server playing back a "
    "fixed script, not an AI. The five tool servers, the patch and the test runs are real, "
    "on a copy of examples/demo_repo in {workspace}."
)

PATCH = """\
*** Begin Patch
*** Update File: textstats/words.py
@@ def words(text: str) -> list[str]:
     \"\"\"The words of ``text``, lower-cased, with punctuation dropped.\"\"\"
-    return _WORD.findall(text)
+    return _WORD.findall(text.lower())
*** End Patch
"""


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": arguments}


def _plan(*statuses: str) -> dict[str, Any]:
    steps = [
        "Run the tests and read the failure",
        "Find and read the code under test",
        "Fix the code",
        "Run the tests again",
    ]
    return {
        "plan": [
            {"step": step, "status": status} for step, status in zip(steps, statuses, strict=True)
        ]
    }


def script(python: str) -> dict[str, Any]:
    """The scripted model's turns. ``python`` runs the tests (this interpreter has pytest)."""
    test = f"{python} -m pytest -q -p no:cacheprovider"
    return {
        "turns": [
            [
                {"type": "reasoning", "summary": "Start by running the tests to see what fails."},
                _call(
                    "update_plan",
                    explanation="Reproduce, locate, fix, verify.",
                    **_plan("in_progress", "pending", "pending", "pending"),
                ),
                _call("exec_command", cmd=test, yield_time_ms=60000),
            ],
            [
                "Two tests fail: `words()` returns 'he' for 'The', so upper-case letters are "
                "dropped instead of lower-cased. Let me find it.",
                _call("grep", pattern="def words", path="."),
                _call("find_files", pattern="*.py", path="textstats"),
            ],
            [_call("read_file", path="textstats/words.py")],
            [
                {
                    "type": "reasoning",
                    "summary": "The regex only matches a-z and the text is never lower-cased.",
                },
                _call(
                    "update_plan",
                    **_plan("completed", "completed", "in_progress", "pending"),
                ),
                _call("apply_patch", input=PATCH),
            ],
            [
                _call("update_plan", **_plan("completed", "completed", "completed", "in_progress")),
                _call("exec_command", cmd=test, yield_time_ms=60000),
            ],
            [_call("update_plan", **_plan("completed", "completed", "completed", "completed"))],
        ],
        "rules": [
            {
                "match": r"(?i)error|failed to apply|no such",
                "tool": "apply_patch",
                "output": ["The patch did not apply; stopping so a human can look."],
            }
        ],
        "final": (
            "Fixed: `words()` in textstats/words.py matched only lower-case letters without "
            "lower-casing the text first, so 'The' became 'he'. It now lower-cases before "
            "matching, as its docstring promised. All three tests pass."
        ),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary copy and print its path"
    )
    add_common_arguments(parser)
    parser.set_defaults(approval="never", ephemeral=True)


def run(args: argparse.Namespace) -> int:
    if not DEMO_REPO.is_dir():
        print(
            f"toolwire demo: {DEMO_REPO} not found (the demo needs a source checkout)",
            file=sys.stderr,
        )
        return 2
    temp = Path(tempfile.mkdtemp(prefix="toolwire-demo-"))
    try:
        workspace = temp / "demo_repo"
        shutil.copytree(DEMO_REPO, workspace, ignore=shutil.ignore_patterns("__pycache__"))
        script_file = temp / "script.json"
        script_file.write_text(json.dumps(script(_quote(sys.executable)), indent=2))
        args.mock = script_file
        args.cd = workspace
        overrides = [
            # The demo must run where bubblewrap cannot; the shell server says which mode
            # it is really in.
            'servers.shell.args=["--sandbox-fallback", "unsandboxed"]',
        ]
        plan = Plan(
            kind="demo",
            task=TASK,
            header=HEADER.format(workspace=workspace),
            extra_overrides=overrides,
        )
        code = execute(args, plan)
        if code != EXIT_OK:
            return code
        check = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=workspace,
            capture_output=True,
            text=True,
            check=False,
        )
        tail = (check.stdout.strip().splitlines() or [""])[-1]
        out = sys.stderr if args.json else sys.stdout
        if check.returncode == 0:
            print(f"\nverified independently: pytest in the copy says: {tail}", file=out)
            return EXIT_OK
        print(f"\nthe tests still fail in the copy: {tail}", file=out)
        return EXIT_FAILED
    finally:
        if args.keep:
            print(f"kept the demo copy in {temp}", file=sys.stderr)
        else:
            shutil.rmtree(temp, ignore_errors=True)


def _quote(path: str) -> str:
    return f'"{path}"' if " " in path else path
