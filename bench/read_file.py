"""read_file of 100 lines near the end of a 1 GB file, through MCP over stdio, beside ``sed -n``.

Target (issue 2): the server's peak RSS stays under 100 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from bench._harness import DATA, REPO, Row, child_pid, median_ms, peak_rss_mb, record, verdict

SIZE = 1 << 30
LINE = 100  # bytes per line including the newline
RUNS = 5


def make_file(path: Path) -> int:
    """A 1 GiB file of numbered 100-byte lines (reused between runs); returns its line count."""
    lines = SIZE // LINE
    if path.exists() and path.stat().st_size == lines * LINE:
        return lines
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 10_000
    with path.open("wb") as f:
        for start in range(0, lines, block):
            f.write(
                b"".join(
                    f"line {n:>12} {'x' * (LINE - 19 - 1)}\n".encode()
                    for n in range(start + 1, min(start + block, lines) + 1)
                )
            )
    return lines


def server_pid() -> int:
    return child_pid(b"servers.files")


async def through_mcp(path: Path, offset: int) -> tuple[list[float], float, str]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "servers.files", "--root", str(path.parent)]
    )
    times = []
    async with Client(params, mode="legacy") as client:
        pid = server_pid()
        text = ""
        for _ in range(RUNS):
            t0 = time.perf_counter()
            result = await client.call_tool(
                "read_file", {"path": path.name, "offset": offset, "limit": 100}
            )
            times.append(time.perf_counter() - t0)
            text = result.content[0].text  # type: ignore[union-attr]
        rss = peak_rss_mb(pid)
    return times, rss, text


def with_sed(path: Path, offset: int) -> list[float]:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(
            ["sed", "-n", f"{offset},{offset + 99}p;{offset + 99}q", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    path = DATA / "big.txt"
    lines = make_file(path)
    offset = lines - 150
    mcp_times, rss, text = anyio.run(through_mcp, path, offset)
    assert f"line {offset:>12}" in text, "read_file returned the wrong lines"
    sed_times = with_sed(path, offset)
    mcp_ms, sed_ms = median_ms(mcp_times), median_ms(sed_times)
    rows = [
        Row("read_file via MCP stdio, median of 5", f"{mcp_ms:.0f} ms"),
        Row("sed -n on the same lines, median of 5", f"{sed_ms:.0f} ms"),
        Row("ratio read_file / sed", f"{mcp_ms / sed_ms:.2f}x"),
        Row("files server peak RSS", f"{rss:.0f} MB", "< 100 MB", verdict(rss, 100, " MB")),
    ]
    record(
        "read_file",
        f"read_file: 100 lines near the end of a 1 GiB file ({lines:,} lines)",
        rows,
    )


if __name__ == "__main__":
    os.chdir(REPO)
    main()
