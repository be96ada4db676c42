from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field, create_model

from agent.hub.strict import make_strict, restore_arguments


class Item(BaseModel):
    name: str
    count: int = 1


class Node(BaseModel):
    value: int
    children: list[Node] = []


def schema_of(**fields: Any) -> dict[str, Any]:
    model = create_model("Args", **fields)  # type: ignore[call-overload]
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def strict_keywords_only(schema: Any) -> None:
    """Every object is closed and lists every property as required; no 'default' anywhere."""
    if isinstance(schema, dict):
        assert "default" not in schema
        if "properties" in schema:
            assert schema["additionalProperties"] is False
            assert schema["required"] == list(schema["properties"])
        for value in schema.values():
            strict_keywords_only(value)
    elif isinstance(schema, list):
        for value in schema:
            strict_keywords_only(value)


def test_optional_fields_become_nullable_and_defaults_move_to_descriptions() -> None:
    schema = schema_of(
        path=(Annotated[str, Field(description="where")], ...),
        depth=(Annotated[int, Field(description="how deep", ge=1)], 2),
        note=(str | None, None),
        item=(Item | None, None),
        items=(list[Item], []),
        mode=(Literal["fast", "slow"], "fast"),
    )
    result = make_strict(schema)
    assert result.strict, result.reason
    assert result.restore
    params = result.parameters
    strict_keywords_only(params)
    assert params["properties"]["depth"]["type"] == ["integer", "null"]
    assert params["properties"]["depth"]["description"] == "how deep (default: 2)"
    assert params["properties"]["mode"]["anyOf"][-1] == {"type": "null"}
    # the model may now send every key, null meaning "not given"
    sent = {"path": "a", "depth": None, "note": None, "item": None, "items": None, "mode": None}
    jsonschema.validate(sent, params)
    assert restore_arguments(sent, schema) == {"path": "a"}
    jsonschema.validate({"path": "a"}, schema)
    # inside an optional model (X | None) the model's nulls are restored too
    sent = {**sent, "item": {"name": "n", "count": None}}
    jsonschema.validate(sent, params)
    assert restore_arguments(sent, schema) == {"path": "a", "item": {"name": "n"}}


def test_nested_optional_fields_are_restored_through_refs_and_arrays() -> None:
    schema = schema_of(items=(list[Item], ...))
    result = make_strict(schema)
    assert result.strict, result.reason
    sent = {"items": [{"name": "a", "count": None}, {"name": "b", "count": 3}]}
    jsonschema.validate(sent, result.parameters)
    assert restore_arguments(sent, schema) == {"items": [{"name": "a"}, {"name": "b", "count": 3}]}
    assert sent["items"][0]["count"] is None  # the input is not modified


def test_recursive_refs_stay_refs() -> None:
    schema = schema_of(root=(Node, ...))
    result = make_strict(schema)
    assert result.strict, result.reason
    assert "$defs" in result.parameters
    jsonschema.validate({"root": {"value": 1, "children": None}}, result.parameters)


def test_ref_with_a_description_is_inlined() -> None:
    schema = schema_of(item=(Annotated[Item, Field(description="the item")], ...))
    assert "$ref" in schema["properties"]["item"]
    result = make_strict(schema)
    assert result.strict, result.reason
    inlined = result.parameters["properties"]["item"]
    assert "$ref" not in inlined and inlined["description"] == "the item"
    assert inlined["additionalProperties"] is False


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "object", "additionalProperties": {}}}},
            "additional properties",
        ),
        ({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}}, "allOf"),
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "'not'"),
        ({"type": "object", "properties": {"a": {}}}, "any value"),
        ({"type": "object", "properties": {"a": {"type": "string", "format": "uri"}}}, "format"),
        ({"type": "object", "properties": {"a": {"type": "array"}}}, "items"),
        (
            {
                "type": "object",
                "properties": {
                    "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": "x"}
                },
            },
            "default",
        ),
        ({"anyOf": [{"type": "object"}]}, "not an object"),
        ({"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}}, "minLength"),
    ],
)
def test_lossy_conversions_keep_the_original_schema(schema: dict[str, Any], reason: str) -> None:
    original = copy.deepcopy(schema)
    result = make_strict(schema)
    assert not result.strict
    assert reason in (result.reason or "")
    assert result.parameters == original


def test_optional_property_inside_anyof_must_already_be_nullable() -> None:
    branch = {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "required": [],
    }
    schema = {
        "type": "object",
        "properties": {"v": {"anyOf": [branch, {"type": "string"}]}},
        "required": ["v"],
    }
    assert not make_strict(schema).strict
    branch["properties"] = {"x": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}
    assert make_strict(schema).strict


def test_a_definition_reached_from_a_union_follows_union_rules() -> None:
    schema = schema_of(v=(Item | str, ...))  # Item has an optional non-nullable field
    result = make_strict(schema)
    assert not result.strict
    assert "inside anyOf" in (result.reason or "")


def test_an_object_without_parameters_is_strict() -> None:
    result = make_strict({"type": "object", "properties": {}})
    assert result.strict and not result.restore
    assert result.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_required_nulls_are_left_for_the_server_to_refuse() -> None:
    schema = schema_of(a=(int, ...))
    assert restore_arguments({"a": None}, schema) == {"a": None}
