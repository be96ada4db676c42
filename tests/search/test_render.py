"""A grep page's matches go into the structured result as plain JSON objects: they must be
exactly what the ``GrepMatch`` model would give, and the text must say the same."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.search import GrepMatch, GrepResult, Paging
from servers.common.results import tool_result
from servers.search.paging import Line, PageMatch
from servers.search.render import match_items, render_grep

lines = st.builds(Line, st.integers(1, 10_000), st.text(max_size=20))
page_matches = st.builds(
    PageMatch,
    path=st.binary(min_size=1, max_size=12).filter(lambda p: b"\0" not in p),
    line=st.one_of(st.none(), st.integers(1, 10_000)),
    text=st.text(max_size=30),
    column=st.one_of(st.none(), st.integers(1, 100)),
    last_line=st.integers(1, 10_000),
    before=st.lists(lines, max_size=2),
    after=st.lists(lines, max_size=2),
)


def display_all(raws: list[bytes]) -> list[str]:
    return [raw.decode("utf-8", "replace") for raw in raws]


@given(st.lists(page_matches, max_size=6))
def test_match_items_are_what_the_model_dumps(matches: list[PageMatch]) -> None:
    items = match_items(matches, display_all)
    models = [GrepMatch.model_validate(item) for item in items]
    assert [m.model_dump(mode="json") for m in models] == items
    for match, model in zip(matches, models, strict=True):
        assert model.line == (match.line or 0) and model.column == (match.column or 0)
        assert [c.line for c in model.before] == [c.number for c in match.before]
        assert [c.text for c in model.after] == [c.text for c in match.after]


def test_the_structured_result_carries_the_items_and_the_text_renders_them() -> None:
    page = [
        PageMatch(b"a.py", 3, "x = 1", 1, 3, before=[Line(2, "# before")]),
        PageMatch(b"b.py", 9, "y = 2", 5, 9, after=[Line(10, "after")]),
        PageMatch(b"c.py", None, "z", None, 0),
    ]
    items = match_items(page, display_all)
    result = GrepResult(
        pattern="x",
        path=".",
        output_mode="content",
        paging=Paging(offset=0, limit=100, next_offset=None, has_more=False, more=0),
    )
    text = render_grep(result, items)
    assert text.splitlines() == [
        "a.py-2-# before",
        "a.py:3:x = 1",
        "--",
        "b.py:9:y = 2",
        "b.py-10-after",
        "--",
        "c.py:?:z",
    ]
    call = tool_result(result, text, dumped={"matches": items})
    assert call.structured_content is not None
    assert call.structured_content["matches"] == items
    assert GrepResult.model_validate(call.structured_content).matches[0].before[0].line == 2
