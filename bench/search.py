"""grep and find_files through MCP over stdio, beside the ``rg`` command line on the same query.

Corpus: a copy of the running interpreter's standard library (site-packages and __pycache__ left
out, so every machine searches the same kind of tree), and a larger tree made of several copies
of it, both under bench/.data/search (reused between runs, never committed).

Each query is timed at the client: one ``call_tool`` round trip to ``toolwire-search`` running
as a stdio subprocess, with the default page of 100 results. The client is the agent hub's own
(:func:`bench._harness.hub_client`: its ``HubClient`` over its stdio transport); the MCP SDK's
plain ``Client`` is timed as well, for readers who call the server from their own Python code
(it checks each structured result with the pure-Python ``jsonschema`` package). ``find_files``
is timed as shipped, with its listing cache (an unchanged tree's listing is reused; the first
call starts watching the tree, and the timed calls come after the second), and with the cache
off (``--no-listing-cache``), where every call runs ``rg --files``. The baseline is
``rg`` run by this process with the same pattern and flags, its whole output read from a pipe
(what a person at a terminal gets), given the flags that make it answer the same query: with
``--smart-case`` where the tool's default ``case="smart"`` applies, with the server's own file
selection for ``*.py`` (:data:`PY_FILES`), and with ``--line-number`` for content searches: rg
numbers lines by default at a terminal and the tool returns the numbers, but through a pipe rg
leaves them out unless asked (which spares it counting lines). That unnumbered run is timed too
and shown beside each content row. Every variant runs once per round, interleaved,
so they all see the same machine load. A search with context lines is shown too, for
reference (not one of the targeted kinds). Targets (issue 3): median at most 1.2x the rg command
line; a query with a million matches returns its first page in under 50 ms with the server's
peak RSS under 100 MB."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench._harness import (
    DATA,
    REPO,
    Row,
    child_pid,
    hub_client,
    median_ms,
    peak_rss_mb,
    record,
    verdict,
)
from servers.search.rg import Filters, find_rg

CORPUS = DATA / "search"
COPIES = 4
RUNS = 25
TARGET_RATIO = 1.2


@dataclass(frozen=True)
class Query:
    name: str
    tool: str
    args: dict[str, Any]
    cli: list[str]  # rg arguments (after the binary), run inside the corpus directory
    corpora: tuple[str, ...] = ("stdlib", "large")
    extra: dict[str, Any] = field(default_factory=dict)
    targeted: bool = True
    """Held to the 1.2x target (the issue's four kinds of query); else shown for reference."""


LINE_NUMBERS = "--line-number"
"""What rg prints by default at a terminal, and what grep's results carry."""
PY_FILES = Filters(globs=("*.py",)).flags()
"""How the server selects ``*.py`` (an rg type, so .gitignore applies; hidden files left out).
rg's own ``--glob=*.py`` would select differently (it overrides ignore rules), so the command
line is given the same flags: both sides answer the same query."""

QUERIES = [
    Query(
        "literal",
        "grep",
        {"pattern": "def __init__(self", "fixed_strings": True},
        [LINE_NUMBERS, "--smart-case", "--fixed-strings", "def __init__(self", "."],
    ),
    Query(
        "rare literal (full scan)",
        "grep",
        {"pattern": "zqxjv_not_there", "fixed_strings": True},
        [LINE_NUMBERS, "--smart-case", "--fixed-strings", "zqxjv_not_there", "."],
    ),
    Query(
        "regex",
        "grep",
        {"pattern": r"class \w+Error\("},
        [LINE_NUMBERS, "--smart-case", r"class \w+Error\(", "."],
    ),
    Query(
        "case-insensitive + glob",
        "grep",
        {"pattern": "deprecated", "case": "insensitive", "glob": "*.py"},
        [LINE_NUMBERS, "--ignore-case", *PY_FILES, "deprecated", "."],
    ),
    Query(
        "case-insensitive + glob, 1 context line",
        "grep",
        {"pattern": "deprecated", "case": "insensitive", "glob": "*.py", "context": 1},
        [LINE_NUMBERS, "--context=1", "--ignore-case", *PY_FILES, "deprecated", "."],
        ("stdlib",),
        targeted=False,
    ),
    Query(
        "file listing (glob)",
        "find_files",
        {"pattern": "*.py"},
        ["--files", *PY_FILES, "."],
    ),
    Query(
        "file listing (fuzzy)",
        "find_files",
        {"pattern": "httpclient"},
        ["--files", "."],
    ),
]
MILLION = Query(
    "1M+ matches, first page",
    "grep",
    {"pattern": "e"},
    [LINE_NUMBERS, "--smart-case", "e", "."],
    ("large",),
)
FLOOR = Query(
    "empty directory (fixed cost of a call)",
    "grep",
    {"pattern": "x"},
    [LINE_NUMBERS, "--smart-case", "x", "."],
)


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def build_corpus() -> dict[str, Path]:
    """The stdlib copy and the larger tree, made once (a marker names what they were made of)."""
    source = stdlib_dir()
    stamp = f"{source} x{COPIES}\n"
    marker = CORPUS / "made-from.txt"
    stdlib, large = CORPUS / "stdlib", CORPUS / "large"
    if not (marker.exists() and marker.read_text() == stamp):
        shutil.rmtree(CORPUS, ignore_errors=True)
        ignore = shutil.ignore_patterns("site-packages", "__pycache__")
        shutil.copytree(source, stdlib, ignore=ignore, symlinks=True)
        for n in range(COPIES):
            shutil.copytree(stdlib, large / f"copy{n}", symlinks=True)
        marker.write_text(stamp)
    (CORPUS / "empty").mkdir(exist_ok=True)
    return {"stdlib": stdlib, "large": large}


def validation_ms() -> tuple[float, float]:
    """CPU time to check one 100-match grep page against the tool's output schema: the MCP
    SDK's check (pure-Python jsonschema), then toolwire's (the compiled validator)."""
    from jsonschema import validators  # type: ignore[import-untyped]
    from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema
    from pydantic import TypeAdapter

    from agent.hub.validation import compile_fast
    from schemas.search import GrepMatch, GrepResult, Paging

    schema = TypeAdapter(GrepResult).json_schema(schema_generator=StrictJsonSchema)
    page = GrepResult(
        pattern="x",
        path=".",
        output_mode="content",
        paging=Paging(offset=0, limit=100, next_offset=100, has_more=True, more=None),
        matches=[
            GrepMatch(path=f"pkg/mod{i}.py", line=i, column=5, text="def __init__(self):")
            for i in range(100)
        ],
    ).model_dump(mode="json")
    validator = validators.validator_for(schema)(schema)
    fast = compile_fast(schema)
    assert fast is not None and fast.is_valid(page)

    def per_call(check: Any, count: int) -> float:
        check()
        t0 = time.process_time()
        for _ in range(count):
            check()
        return (time.process_time() - t0) / count * 1000

    return (
        per_call(lambda: list(validator.iter_errors(page)), 50),
        per_call(lambda: fast.is_valid(page), 2000),
    )


def corpus_size(path: Path) -> str:
    files = 0
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            files += 1
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).lstat().st_size
    return f"{files:,} files, {total / 1e6:.0f} MB"


def server_pid() -> int:
    return child_pid(b"servers.search")


async def wait_for_listing_cache(client: Client, query: Query) -> None:
    """Let the server's listing cache get ready the way an agent's session does: the first
    call started watching the tree in the background; after a pause for that, one more call
    runs rg and keeps its listing, which the timed calls then reuse."""
    await anyio.sleep(0.5)
    await client.call_tool(query.tool, query.args)


def time_cli(rg: str, argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([rg, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


@dataclass
class Timings:
    mcp: list[float] = field(default_factory=list)
    """Through toolwire's client (HubClient)."""
    sdk: list[float] = field(default_factory=list)
    """Through the MCP SDK's plain Client."""
    cli: list[float] = field(default_factory=list)
    unnumbered: list[float] = field(default_factory=list)
    """rg as a pipe runs it by default: content searches without line numbers."""
    uncached: list[float] = field(default_factory=list)
    """find_files with the listing cache off: every call runs ``rg --files``."""
    last_line: str = ""


async def measure(corpus: Path, queries: list[Query], rg: str) -> tuple[dict[str, Timings], float]:
    """Per query: the timings and the result's last line; then the server's peak RSS."""
    server = ["-m", "servers.search", "--root", str(corpus)]
    params = StdioServerParameters(command=sys.executable, args=server, cwd=REPO)
    out: dict[str, Timings] = {}
    async with hub_client(*server) as client:
        pid = server_pid()
        async with (
            Client(params, mode="legacy") as sdk_client,
            hub_client(*server, "--no-listing-cache") as uncached,
        ):
            for query in queries:
                timings = out[query.name] = Timings()
                listing = query.tool == "find_files"
                for warm_up in (client, sdk_client, uncached):  # the page cache and each path
                    await warm_up.call_tool(query.tool, query.args)
                if listing:
                    await wait_for_listing_cache(client, query)
                time_cli(rg, query.cli, corpus)
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    result = await client.call_tool(query.tool, query.args)
                    timings.mcp.append(time.perf_counter() - t0)
                    assert not result.is_error, result
                    text = result.content[0].text  # type: ignore[union-attr]
                    timings.last_line = text.strip().splitlines()[-1]
                    t0 = time.perf_counter()
                    await sdk_client.call_tool(query.tool, query.args)
                    timings.sdk.append(time.perf_counter() - t0)
                    if listing:
                        t0 = time.perf_counter()
                        await uncached.call_tool(query.tool, query.args)
                        timings.uncached.append(time.perf_counter() - t0)
                    timings.cli.append(time_cli(rg, query.cli, corpus))
                    if LINE_NUMBERS in query.cli:
                        unnumbered = [arg for arg in query.cli if arg != LINE_NUMBERS]
                        timings.unnumbered.append(time_cli(rg, unnumbered, corpus))
        rss = peak_rss_mb(pid)
    return out, rss


def main() -> None:
    rg = find_rg()
    corpora = build_corpus()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    for label, path in corpora.items():
        rows.append(Row(f"corpus `{label}`", corpus_size(path)))
    worst_ratio = 0.0
    peak = 0.0
    for label, path in corpora.items():
        queries = [q for q in QUERIES if label in q.corpora]
        results, rss = anyio.run(measure, path, queries, rg)
        peak = max(peak, rss)
        for query in queries:
            timings = results[query.name]
            mcp_ms, cli_ms = median_ms(timings.mcp), median_ms(timings.cli)
            ratio = mcp_ms / cli_ms
            if query.targeted:
                worst_ratio = max(worst_ratio, ratio)
            unnumbered = ""
            if timings.uncached:
                uncached_ms = median_ms(timings.uncached)
                unnumbered = (
                    f"; listing cache off, rg on every call: {uncached_ms:.1f} ms, "
                    f"{uncached_ms / cli_ms:.2f}x"
                )
            if timings.unnumbered:
                plain_ms = median_ms(timings.unnumbered)
                unnumbered = (
                    f"; rg without line numbers: {plain_ms:.1f} ms, {mcp_ms / plain_ms:.2f}x"
                )
            rows.append(
                Row(
                    f"{label}: {query.name} — {query.tool} via MCP / rg CLI "
                    f"(MCP SDK's Client: {median_ms(timings.sdk):.1f} ms{unnumbered})",
                    f"{mcp_ms:.1f} ms / {cli_ms:.1f} ms = {ratio:.2f}x",
                    f"<= {TARGET_RATIO}x" if query.targeted else "",
                    verdict(ratio, TARGET_RATIO, "x") if query.targeted else "",
                )
            )
            print(f"  {label} {query.name}: {timings.last_line[:160]}", file=sys.stderr)
    results, _ = anyio.run(measure, CORPUS / "empty", [FLOOR], rg)
    floor = results[FLOOR.name]
    rows.append(
        Row(
            f"{FLOOR.name} — grep via MCP / rg CLI (MCP SDK's Client: "
            f"{median_ms(floor.sdk):.1f} ms)",
            f"{median_ms(floor.mcp):.1f} ms / {median_ms(floor.cli):.1f} ms",
        )
    )
    slow, fast = validation_ms()
    rows.append(
        Row(
            "checking a 100-match page against the output schema, CPU: the MCP SDK's Client "
            "(jsonschema) / toolwire's (compiled, jsonschema-rs)",
            f"{slow:.2f} ms / {fast:.3f} ms",
        )
    )
    results, rss = anyio.run(measure, corpora["large"], [MILLION], rg)
    million = results[MILLION.name]
    first_page = median_ms(million.mcp)
    rows.append(
        Row(
            "large: `grep e` (1M+ matches), first page of 100 via MCP",
            f"{first_page:.1f} ms (rg CLI, whole output: {median_ms(million.cli):.0f} ms)",
            "< 50 ms",
            verdict(first_page, 50, " ms"),
        )
    )
    print(f"  million: {million.last_line[:160]}", file=sys.stderr)
    rows.append(
        Row(
            "search server peak RSS (1M+ match run)",
            f"{rss:.0f} MB",
            "< 100 MB",
            verdict(rss, 100, " MB"),
        )
    )
    rows.append(Row("peak RSS over all other queries", f"{peak:.0f} MB"))
    rows.append(
        Row(f"worst ratio of the targeted rows (median of {RUNS} runs each)", f"{worst_ratio:.2f}x")
    )
    rows.append(
        Row(
            "machine load (1-min load average, start / end of the run)",
            f"{load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        )
    )
    record("search", "search: grep and find_files via MCP stdio vs the rg command line", rows)


if __name__ == "__main__":
    os.chdir(REPO)
    main()
