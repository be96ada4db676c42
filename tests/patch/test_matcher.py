"""The four matching passes, forward-only search, end-of-file anchoring, hints, closest region."""

from __future__ import annotations

from servers.patch.matcher import LineIndex, Match, MatchPass, closest_region, fold, seek


def find(lines: list[str], pattern: list[str], start: int = 0, **kw: object) -> Match | None:
    return seek(LineIndex(lines), pattern, start, **kw)  # type: ignore[arg-type]


def test_exact() -> None:
    assert find(["foo", "bar", "baz"], ["bar", "baz"]) == Match(1, MatchPass.EXACT)


def test_trailing_whitespace() -> None:
    assert find(["foo   ", "bar\t\t"], ["foo", "bar"]) == Match(0, MatchPass.TRAILING_WHITESPACE)


def test_surrounding_whitespace() -> None:
    found = find(["    foo   ", "   bar\t"], ["foo", "bar"])
    assert found == Match(0, MatchPass.SURROUNDING_WHITESPACE)


def test_unicode_punctuation() -> None:
    lines = [
        "x = 1 \u2013 2  # \u201cquoted\u201d \u2018it\u2019s\u2019",
        "a\u00a0b\u2009c \u2212 d",
    ]
    pattern = ["x = 1 - 2  # \"quoted\" 'it's'", "a b c - d"]
    assert find(lines, pattern) == Match(0, MatchPass.UNICODE)
    # Also the other way round: the file is ASCII, the patch typographic.
    assert find(pattern, lines) == Match(0, MatchPass.UNICODE)


def test_undecodable_byte_matches_replacement_character() -> None:
    # The files server shows an invalid byte as U+FFFD; the file holds it surrogate-escaped.
    assert find(["caf\udce9"], ["caf\ufffd"]) == Match(0, MatchPass.UNICODE)


def test_stricter_pass_wins_even_later_in_the_file() -> None:
    assert find(["foo ", "x", "foo"], ["foo"]) == Match(2, MatchPass.EXACT)


def test_forward_only() -> None:
    lines = ["a", "b", "a", "b"]
    assert find(lines, ["a"], start=1) == Match(2, MatchPass.EXACT)
    assert find(lines, ["a", "b"], start=3) is None


def test_end_of_file_anchor() -> None:
    lines = ["x", "end", "y", "end"]
    assert find(lines, ["end"], at_end=True) == Match(3, MatchPass.EXACT)
    assert find(lines, ["x"], at_end=True) is None
    assert find(["a", "end  "], ["end"], at_end=True) == Match(1, MatchPass.TRAILING_WHITESPACE)


def test_hint_prefers_the_nearest_occurrence() -> None:
    lines = ["dup", "x", "dup", "y", "dup", "z"]
    assert find(lines, ["dup"], hint=4) == Match(4, MatchPass.EXACT)
    assert find(lines, ["dup"], hint=3) == Match(2, MatchPass.EXACT)
    assert find(lines, ["dup"], hint=3, start=3) == Match(4, MatchPass.EXACT)
    assert find(lines, ["z"], hint=0) == Match(5, MatchPass.EXACT)


def test_pattern_longer_than_file() -> None:
    assert find(["one"], ["one", "two"]) is None


def test_fold() -> None:
    assert fold("  \u201chi\u201d \u2014 there\u00a0 ") == '"hi" - there'


def test_closest_region_counts_matching_lines() -> None:
    lines = [f"line {n}" for n in range(100)]
    lines[50] = "def load(self):"
    lines[51] = "    return self.cache"
    region = closest_region(lines, ["def load(self):", "    return None", "line 52"])
    assert region is not None
    assert (region.start, region.length, region.same) == (50, 3, 2)


def test_closest_region_falls_back_to_similar_text() -> None:
    region = closest_region(["alpha", "beta", "gamma_value = 1"], ["gamma_value = 2"])
    assert region is not None and region.start == 2 and region.same == 0
    assert closest_region(["a"], ["completely different"]) is None
