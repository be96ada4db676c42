from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from agent.hub.naming import MAX_NAME, ToolName, assign, sanitize
from schemas.responses import TOOL_NAME_PATTERN


def test_bundled_tools_keep_plain_names_and_others_are_prefixed() -> None:
    names = assign(
        [
            ToolName("files", "read_file", bundled=True),
            ToolName("github", "create_issue", bundled=False),
        ]
    )
    assert names[ToolName("files", "read_file", True)] == "read_file"
    assert names[ToolName("github", "create_issue", False)] == "github__create_issue"


def test_disallowed_characters_become_underscores() -> None:
    assert sanitize("fs/read.file v2") == "fs_read_file_v2"
    tool = ToolName("my.server", "get/thing", bundled=False)
    assert assign([tool])[tool] == "my_server__get_thing"


def test_long_names_are_cut_with_a_stable_hash() -> None:
    tool = ToolName("server", "x" * 100, bundled=False)
    name = assign([tool])[tool]
    assert len(name) == MAX_NAME
    assert TOOL_NAME_PATTERN.match(name)
    assert name.startswith("server__xxx")
    assert assign([tool])[tool] == name  # same input, same name, every run


def test_colliding_names_are_all_hashed_and_distinct() -> None:
    a = ToolName("a.b", "echo", bundled=False)
    b = ToolName("a_b", "echo", bundled=False)
    names = assign([a, b])
    assert names[a] != names[b]
    assert all(n.startswith("a_b__echo_") for n in names.values())


def test_a_bundled_name_wins_a_collision() -> None:
    bundled = ToolName("files", "srv__x", bundled=True)
    other = ToolName("srv", "x", bundled=False)
    names = assign([other, bundled])
    assert names[bundled] == "srv__x"
    assert names[other] != "srv__x" and names[other].startswith("srv__x_")


def test_duplicates_in_the_input_are_one_tool() -> None:
    tool = ToolName("s", "t", bundled=False)
    assert assign([tool, tool]) == {tool: "s__t"}


_TEXT = st.text(alphabet=st.sampled_from("abcXYZ019_-./ é"), min_size=0, max_size=80)


@given(st.lists(st.tuples(_TEXT, _TEXT, st.booleans()), max_size=30), st.randoms())
def test_names_are_valid_unique_and_independent_of_order(
    raw: list[tuple[str, str, bool]], rng: random.Random
) -> None:
    tools = [ToolName(s, t, b) for s, t, b in raw]
    names = assign(tools)
    assert set(names) == set(tools)
    assert len(set(names.values())) == len(names)
    assert all(TOOL_NAME_PATTERN.match(n) for n in names.values())
    shuffled = list(tools)
    rng.shuffle(shuffled)
    assert assign(shuffled) == names
