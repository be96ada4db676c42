"""The benchmark harness: every ``bench/<name>.py`` measures, then calls :func:`record`, which
prints a table and rewrites that benchmark's section of BENCHMARKS.md (figure, target, command,
machine, date). ``make bench`` (``python -m bench``) runs them all; ``python -m bench.<name>
--print-only`` runs one without touching BENCHMARKS.md.

Timings are wall-clock medians of repeated runs; comparisons are ratios measured in the same run
on the same machine, because absolute numbers on a shared 2-core box drift between runs.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.hub.validation import HubClient

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "BENCHMARKS.md"
DATA = REPO / "bench" / ".data"


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "missed by ...", or "" when the row has no target


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}, "
        f"Python {platform.python_version()}"
    )


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index] * 1000


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def child_pid(marker: bytes) -> int:
    """The pid of this process's direct child whose command line contains ``marker`` (how a
    benchmark finds the server its MCP client started, to read that server's memory)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and marker in cmdline:
            return int(entry.name)
    raise RuntimeError(f"no child process with {marker.decode()!r} in its command line")


def verdict(value: float, limit: float, unit: str = "", lower_is_better: bool = True) -> str:
    ok = value <= limit if lower_is_better else value >= limit
    if ok:
        return "met"
    gap = value / limit if lower_is_better else limit / value
    return f"missed ({value:.3g}{unit} vs {limit:g}{unit}, {gap:.2f}x)"


def render_section(name: str, title: str, rows: Sequence[Row], command: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- bench:{name} -->",
        f"### {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {stamp}",
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        *(f"| {r.figure} | {r.value} | {r.target} | {r.verdict} |" for r in rows),
        f"<!-- /bench:{name} -->",
    ]
    return "\n".join(lines)


def record(name: str, title: str, rows: Sequence[Row], command: str | None = None) -> None:
    """Print the table and replace (or append) this benchmark's section in BENCHMARKS.md.

    With ``--print-only`` on the command line only the table is printed: a trial run (while
    tuning, on a busy machine) must not overwrite the figures of record."""
    command = command or f"python -m bench.{name}"
    section = render_section(name, title, rows, command)
    print(section)
    if "--print-only" in sys.argv:
        return
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


_HEADER = """# Benchmarks

Every figure below was produced by the script named in its section's command line, on the
machine stated there. `make bench` reruns them all and rewrites these tables; a single one runs
with its own command. Ratios compare against a baseline measured in the same run.
"""


def python() -> str:
    return sys.executable


def hub_client(*args: str) -> HubClient:
    """A client for ``python <args>`` run as a stdio server exactly as the agent's hub runs one:
    toolwire's :class:`~agent.hub.validation.HubClient` over the hub's own stdio transport
    (:class:`~agent.hub.stdio.StdioTransport`), started in the repository."""
    from agent.hub.spec import StdioLaunch
    from agent.hub.stdio import StdioTransport
    from agent.hub.validation import HubClient

    launch = StdioLaunch(argv=(sys.executable, *args), env=dict(os.environ), cwd=REPO)
    return HubClient(StdioTransport(launch), mode="auto")
