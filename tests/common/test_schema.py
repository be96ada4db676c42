"""inline_local_refs: definitions written in place, same documents accepted."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from servers.common.schema import inline_local_refs


class Leaf(BaseModel):
    name: str
    size: int | None = None


class Branch(BaseModel):
    leaves: list[Leaf]
    main: Leaf = Field(description="the main leaf")
    spare: Leaf | None = None


class Tree(BaseModel):
    branches: list[Branch]


class Node(BaseModel):
    children: list[Node] = []


def test_nested_definitions_are_written_in_place() -> None:
    inlined = inline_local_refs(Tree.model_json_schema())
    assert "$defs" not in inlined
    assert "$ref" not in repr(inlined)
    branch = inlined["properties"]["branches"]["items"]
    assert branch["properties"]["leaves"]["items"]["properties"]["name"] == {
        "title": "Name",
        "type": "string",
    }
    # A key beside the $ref (here the field's description) stays on the inlined copy.
    assert branch["properties"]["main"]["description"] == "the main leaf"
    assert branch["properties"]["main"]["required"] == ["name"]


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        ({"branches": [{"leaves": [{"name": "a"}], "main": {"name": "m", "size": 3}}]}, True),
        ({"branches": [{"leaves": [], "main": {"name": "m"}, "spare": None}]}, True),
        ({"branches": [{"leaves": [{"size": 1}], "main": {"name": "m"}}]}, False),
        ({"branches": [{"leaves": [], "main": {"name": "m", "size": "big"}}]}, False),
        ({"branches": [{"leaves": []}]}, False),
    ],
)
def test_accepts_exactly_what_the_original_accepts(document: dict[str, Any], valid: bool) -> None:
    original = Tree.model_json_schema()
    for schema in (original, inline_local_refs(original)):
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
        assert (not errors) is valid


def test_recursive_schema_is_left_unchanged() -> None:
    schema = Node.model_json_schema()
    assert "$ref" in repr(schema)  # pydantic describes the recursion with a reference
    assert inline_local_refs(schema) is schema


def test_missing_definition_and_plain_schemas_are_left_unchanged() -> None:
    broken = {"type": "object", "properties": {"x": {"$ref": "#/$defs/Gone"}}, "$defs": {"A": {}}}
    assert inline_local_refs(broken) is broken
    plain = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert inline_local_refs(plain) is plain


def test_bundled_tools_publish_output_schemas_without_references() -> None:
    import json
    from pathlib import Path

    snapshots = Path(__file__).resolve().parents[2] / "schemas" / "tools"
    for path in sorted(snapshots.glob("*.json")):
        for tool in json.loads(path.read_text()):
            assert "$ref" not in json.dumps(tool.get("outputSchema", {})), (path.name, tool["name"])
