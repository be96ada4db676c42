"""find_files matching: glob detection, fuzzy ranking, bounded paging."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.search.fuzzy import FileMatcher, fuzzy_score, in_order, is_glob, scan_records

TREE = [
    "servers/registry.py",
    "servers/search/server.py",
    "servers/files/server.py",
    "docs/observer_notes.md",
    "tests/search/test_server.py",
    "server.py",
    "src/Server/Main.java",
    "misc/s_e_r_v_e_r.txt",
]


def ranked(query: str, paths: list[str] = TREE, offset: int = 0, limit: int = 100) -> list[str]:
    matcher = FileMatcher(query, offset, limit)
    matcher.feed(b"".join(p.encode() + b"\0" for p in paths))
    return [p.decode() for p in matcher.page()]


def test_glob_characters() -> None:
    assert is_glob("*.py") and is_glob("src/**") and is_glob("a?c") and is_glob("{a,b}")
    assert not is_glob("server") and not is_glob("servers/search")


def test_files_named_like_the_query_come_first() -> None:
    result = ranked("server")
    assert result[:4] == [
        "server.py",
        "servers/files/server.py",
        "servers/search/server.py",
        "tests/search/test_server.py",
    ]
    assert result.index("docs/observer_notes.md") < result.index("misc/s_e_r_v_e_r.txt")
    assert "servers/registry.py" in result  # matches through its directory only: ranked late
    assert result.index("servers/registry.py") > result.index("docs/observer_notes.md")


def test_fuzzy_is_case_insensitive_and_in_order() -> None:
    assert "src/Server/Main.java" in ranked("srvmain")
    assert ranked("niamvrs") == []
    assert fuzzy_score("main", "src/Server/Main.java") is not None


def test_query_with_a_slash_matches_the_path() -> None:
    assert ranked("search/server")[0] == "servers/search/server.py"


def test_pages_of_a_ranking_neither_repeat_nor_skip() -> None:
    paths = [f"pkg{n % 7}/mod_{n}/server_{n}.py" for n in range(300)]
    whole = ranked("server", paths, limit=1000)
    assert len(whole) == 300
    pages: list[str] = []
    for offset in range(0, 300, 41):
        pages += ranked("server", paths, offset=offset, limit=41)
    assert pages == whole


def test_glob_mode_keeps_path_order_and_counts_everything() -> None:
    matcher = FileMatcher("*.py", 2, 2)
    data = b"".join(p.encode() + b"\0" for p in ["./b.py", "./a/z.py", "./a+.py", "./c.py"])
    for i in range(0, len(data), 5):
        matcher.feed(data[i : i + 5])
    assert matcher.total == 4
    assert matcher.page() == [b"b.py", b"c.py"]  # a/z.py, a+.py come first


names = st.lists(
    st.one_of(
        st.sampled_from(["/", ".", "_", "-", " ", "Σ", "ς", "σ", "İ", "ß", "K", "é", "\udcff"]),
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=4),
    ),
    min_size=1,
    max_size=6,
).map("".join)


@given(st.lists(names, max_size=12))
def test_a_listing_decoded_and_lowered_at_once_equals_path_by_path(paths: list[str]) -> None:
    # FileMatcher decodes and lower-cases a whole chunk of NUL-separated paths in one go
    raw = [p.encode("utf-8", "surrogateescape") for p in paths]
    text = b"".join(r + b"\0" for r in raw).decode("utf-8", "surrogateescape")
    assert text.split("\0")[:-1] == [r.decode("utf-8", "surrogateescape") for r in raw]
    assert text.lower().split("\0")[:-1] == [p.lower() for p in paths]


def is_file_path(path: str) -> bool:
    """A path rg can print for a file: no empty, "." or ".." component (``./`` is a prefix
    rg adds, which the matcher strips, not part of a name)."""
    return all(part not in ("", ".", "..") for part in path.split("/"))


@settings(max_examples=200)
@given(
    query=names.filter(lambda q: not is_glob(q) and q.strip()),
    paths=st.lists(names.filter(is_file_path), max_size=15),
    chunk=st.integers(min_value=1, max_value=40),
    offset=st.integers(min_value=0, max_value=4),
)
def test_fuzzy_pages_equal_scoring_every_path(
    query: str, paths: list[str], chunk: int, offset: int
) -> None:
    lowered = "".join(query.lower().split())
    scored = []
    for path in dict.fromkeys(paths):
        score = fuzzy_score(lowered, path)
        if score is not None:
            scored.append((score, path.encode("utf-8", "surrogateescape").replace(b"/", b"\0")))
    expected = [key.replace(b"\0", b"/") for _, key in sorted(scored)[offset : offset + 3]]
    matcher = FileMatcher(query, offset, 3)
    data = b"".join(
        b"./" + p.encode("utf-8", "surrogateescape") + b"\0" for p in dict.fromkeys(paths)
    )
    for i in range(0, len(data), chunk):
        matcher.feed(data[i : i + chunk])
    assert matcher.page() == expected
    assert matcher.total == len(scored)


@given(paths=st.lists(names, max_size=30), chunk=st.integers(min_value=1, max_value=120))
def test_glob_pages_follow_rgs_path_order(paths: list[str], chunk: int) -> None:
    unique = list(dict.fromkeys(p.encode("utf-8", "surrogateescape") for p in paths))
    matcher = FileMatcher("*", 1, 4)
    data = b"".join(b"./" + p + b"\0" for p in unique)
    for i in range(0, len(data), chunk):
        matcher.feed(data[i : i + chunk])
    assert matcher.total == len(unique)
    assert matcher.page() == sorted(unique, key=lambda p: p.split(b"/"))[1:5]


@settings(max_examples=300)
@given(query=names.map(lambda q: "".join(q.lower().split())), paths=st.lists(names, max_size=15))
def test_scanning_a_whole_listing_finds_the_paths_tested_one_by_one(
    query: str, paths: list[str]
) -> None:
    # the scan is the prefilter over a whole chunk: it must never drop a path fuzzy_score
    # accepts, and it finds exactly the paths the path-by-path test lets through
    text = "".join(p + "\0" for p in paths)
    lowered = text.lower()
    if not query or "\0" in query or len(lowered) != len(text):
        return  # FileMatcher tests path by path then
    scanned = scan_records(in_order(query, across=True), text, lowered)
    one_by_one = [p for p in paths if in_order(query).match(p.lower())]
    assert scanned == one_by_one
    assert all(p in scanned for p in paths if fuzzy_score(query, p) is not None)


def test_the_scan_stays_inside_each_path() -> None:
    paths = ["ab/x", "b/a", "zzz", "a", "xba", "b"]
    text = "".join(p + "\0" for p in paths)
    assert scan_records(in_order("ab", across=True), text, text) == ["ab/x"]
    assert scan_records(in_order("b", across=True), text, text) == ["ab/x", "b/a", "xba", "b"]


@given(
    query=names.map(lambda q: "".join(q.lower().split())).filter(bool),
    path=names,
    worst_tier=st.integers(min_value=0, max_value=5),
)
def test_a_bounded_score_is_the_score_or_says_it_ranks_after_the_bound(
    query: str, path: str, worst_tier: int
) -> None:
    # a full page passes its worst tier: paths that would rank after it are not scored in full
    # (the name tiers 0-2 cost no more than the test itself and are always given)
    full = fuzzy_score(query, path)
    expected = full if full is not None and full[0] <= max(worst_tier, 2) else None
    assert fuzzy_score(query, path, worst_tier) == expected
