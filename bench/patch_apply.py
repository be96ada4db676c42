"""apply_patch through MCP over stdio, beside ``git apply`` on the same change.

Two changes, both generated under bench/.data/patch (each in a scratch git repository of its own,
which is also the workspace, so ``git apply`` treats it as the top level):

- **200 hunks on one 20,000-line file**: every 100th line rewritten;
- **100 files**: one hunk in each of 100 files of 200 lines.

``toolwire-patch`` runs as a stdio subprocess with its defaults and is timed at the client, one
``call_tool`` round trip each: with the Codex-format patch, and with the unified diff ``git
diff`` printed for the same change. The client is the agent hub's own (:func:`bench._harness.
hub_client`: its ``HubClient`` over its stdio transport); the MCP SDK's plain ``Client`` is
timed too, for readers who call the server from their own Python code: it checks the structured
result with the pure-Python ``jsonschema`` package, which costs milliseconds for a 100-file
result. A second server with ``--fsync`` shows what durability against power loss costs (``git
apply`` does not fsync). The baseline is ``git apply`` of that diff, run by this process
(process start included, as an agent would run it). Every variant runs once per round,
interleaved (each round starting with the next variant), and the files are put back between runs
(untimed). Target (issue 4): at most 3x ``git apply``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from bench._harness import DATA, REPO, Row, hub_client, median_ms, record, verdict

WORK = DATA / "patch"
RUNS = 15
TARGET_RATIO = 3.0


@dataclass(frozen=True)
class Case:
    name: str
    before: dict[str, bytes]
    after: dict[str, bytes]


def big_file_case() -> Case:
    lines = [f"line {n:05}: value = compute({n}, factor={n % 7})\n" for n in range(20_000)]
    changed = list(lines)
    for n in range(50, 20_000, 100):
        changed[n] = f"line {n:05}: value = compute_fast({n}, factor={n % 7}, cache=True)\n"
    return Case("200 hunks, one 20,000-line file", {"big.py": "".join(lines).encode()},
                {"big.py": "".join(changed).encode()})  # fmt: skip


def many_files_case() -> Case:
    before: dict[str, bytes] = {}
    after: dict[str, bytes] = {}
    for f in range(100):
        lines = [f"def f{f}_{n}(x):  # file {f} line {n}\n" for n in range(200)]
        name = f"pkg{f // 10}/mod{f:03}.py"
        before[name] = "".join(lines).encode()
        lines[100] = f"def f{f}_100(x, y=None):  # changed\n"
        after[name] = "".join(lines).encode()
    return Case("100 files, one hunk each", before, after)


def put(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    done = subprocess.run(
        ["git", *ident, "-C", str(root), *args], check=True, capture_output=True, env=env
    )
    return done.stdout.decode()


def unified_diff(case: Case, root: Path) -> str:
    """What `git diff` prints for the change (a scratch repository makes it)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    git(root, "init", "-q")
    put(root, case.before)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "before")
    put(root, case.after)
    return git(root, "diff")


def codex_patch(case: Case) -> str:
    """The same change in the Codex format, one hunk per changed line with 3 lines of context."""
    out = ["*** Begin Patch"]
    for name, data in case.before.items():
        old = data.decode().splitlines()
        new = case.after[name].decode().splitlines()
        out.append(f"*** Update File: {name}")
        for n, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                out += ["@@", *(" " + line for line in old[max(n - 3, 0) : n])]
                out += ["-" + a, "+" + b, *(" " + line for line in old[n + 1 : n + 4])]
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


def check(root: Path, case: Case) -> None:
    for name, data in case.after.items():
        assert (root / name).read_bytes() == data, f"{name} is not as expected"


def git_apply(root: Path, patch_file: Path) -> None:
    subprocess.run(["git", "apply", str(patch_file)], cwd=root, check=True)


async def measure(case: Case, patch: str, diff: str, root: Path) -> dict[str, list[float]]:
    """Time every variant once per round, round after round, so that all of them see the same
    machine load (this box is shared; interleaving keeps the ratios honest)."""
    patch_file = root.parent / f"{root.name}.diff"
    patch_file.write_text(diff)
    base = ["-m", "servers.patch", "--root", str(root), "--journal-dir", str(WORK / "journal")]
    default = StdioServerParameters(command=sys.executable, args=base, cwd=REPO)
    times: dict[str, list[float]] = {}
    async with (
        hub_client(*base) as client,
        hub_client(*base, "--fsync") as synced,
        Client(default, mode="legacy") as sdk_client,
    ):

        async def call(server: Client, text: str) -> None:
            result = await server.call_tool("apply_patch", {"input": text})
            assert not result.is_error, result.content

        async def run_git() -> None:
            git_apply(root, patch_file)  # blocking on purpose: nothing else runs meanwhile

        variants: dict[str, Callable[[], Awaitable[None]]] = {
            "git apply": run_git,
            "Codex format": lambda: call(client, patch),
            "unified diff": lambda: call(client, diff),
            "Codex format, --fsync": lambda: call(synced, patch),
            "Codex format, the MCP SDK's Client": lambda: call(sdk_client, patch),
        }
        labels = list(variants)
        for round_number in range(RUNS + 1):  # round 0 warms every path up and is dropped
            # Each round starts with a different variant: creating files gets slower right
            # after many have been deleted (inode reuse), so no variant may always follow
            # the same one.
            shift = round_number % len(labels)
            for label in labels[shift:] + labels[:shift]:
                run = variants[label]
                put(root, case.before)
                t0 = time.perf_counter()
                await run()
                elapsed = time.perf_counter() - t0
                check(root, case)
                if round_number:
                    times.setdefault(label, []).append(elapsed)
    return times


def main() -> None:
    rows: list[Row] = []
    for case in (big_file_case(), many_files_case()):
        slug = "big" if case.name.startswith("200") else "many"
        root = WORK / slug  # a git repository of its own, so git apply treats it as the top
        diff = unified_diff(case, root)
        patch = codex_patch(case)
        times = anyio.run(measure, case, patch, diff, root)
        git_ms = median_ms(times.pop("git apply"))
        rows.append(Row(f"{case.name}: git apply, median of {RUNS}", f"{git_ms:.1f} ms"))
        for label, samples in times.items():
            mcp_ms = median_ms(samples)
            ratio = mcp_ms / git_ms
            target = f"<= {TARGET_RATIO:g}x" if label in ("Codex format", "unified diff") else ""
            rows.append(
                Row(
                    f"{case.name}: apply_patch via MCP stdio ({label}) / git apply",
                    f"{mcp_ms:.1f} ms / {git_ms:.1f} ms = {ratio:.2f}x",
                    target,
                    verdict(ratio, TARGET_RATIO, "x") if target else "",
                )
            )
    record("patch_apply", "apply_patch vs git apply (200 hunks on one file; 100 files)", rows)


if __name__ == "__main__":
    os.chdir(REPO)
    main()
