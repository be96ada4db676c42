"""Strict mode for tool schemas, but only when it loses nothing.

With ``strict: true`` the model's arguments are guaranteed to match the schema (constrained
decoding), which removes a whole class of failed calls. The API accepts only a subset of JSON
Schema in strict mode: every object closed (``additionalProperties: false``), every property
listed in ``required``, no ``allOf``/``not``/``if``, no ``default``, a short list of keywords.

An MCP tool's schema usually has optional properties. Making them required would force the
model to invent values, so instead each optional property becomes *nullable*, and a ``null``
from the model means "not given": :func:`restore_arguments` removes those nulls before the call
reaches the server, which then applies its own default. A property's ``default`` moves into its
description so the model still sees it.

That is lossless only when an explicit ``null`` never meant something else, so a schema is
converted only if every optional property is either non-nullable or nullable with default
``null``; and, because stripping inside a real union would be ambiguous, optional properties
under an ``anyOf`` with several non-null branches must already be nullable with default
``null`` (``X | None`` is not such a union: nulls inside ``X`` are restored as usual).
Anything else — an unknown keyword, an open-ended object, a tuple, an unsupported ``format`` —
keeps the original schema untouched with ``strict: false``. :attr:`StrictSchema.reason` says
why.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ALLOWED_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "description",
        "title",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "default",
        "$schema",
        "$comment",
    }
)
"""Keywords strict mode accepts (plus ``default``/``$schema``/``$comment``, which we remove)."""

_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
MAX_DEPTH = 10
MAX_PROPERTIES = 5000
MAX_ENUM = 1000
_MISSING: Any = object()


class NotStrictError(Exception):
    """The schema cannot be made strict without changing what the model may send."""


@dataclass(frozen=True, slots=True)
class StrictSchema:
    """The schema to publish, whether it is strict, and whether calls need nulls removed."""

    parameters: dict[str, Any]
    strict: bool
    reason: str | None = None
    restore: bool = False
    """True when some optional property was made nullable: run :func:`restore_arguments`."""


def make_strict(schema: Mapping[str, Any]) -> StrictSchema:
    """Convert ``schema`` to strict mode if that is lossless, else return it unchanged."""
    try:
        converter = _Converter(schema)
        converted = converter.convert()
    except NotStrictError as exc:
        return StrictSchema(dict(schema), strict=False, reason=str(exc))
    return StrictSchema(converted, strict=True, restore=converter.restore)


class _Converter:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.defs_key = "$defs" if "$defs" in root else "definitions"
        self.defs: Mapping[str, Any] = root.get(self.defs_key) or {}
        if not isinstance(self.defs, Mapping):
            raise NotStrictError(f"'{self.defs_key}' is not an object")
        self.properties = 0
        self.restore = False
        self._inlining: list[str] = []
        self._union_refs: set[str] = set()

    def convert(self) -> dict[str, Any]:
        root = self.root
        if root.get("type") != "object":
            raise NotStrictError("the root is not an object schema")
        if "anyOf" in root:
            raise NotStrictError("the root is a union (anyOf)")
        body = {k: v for k, v in root.items() if k not in ("$defs", "definitions")}
        body.setdefault("properties", {})
        out, _ = self.node(body, "", depth=1, in_union=False)
        if self.defs:
            # A definition reached from inside an anyOf obeys the union rules. Reaching it can
            # happen through another definition, so convert until nothing changes.
            converted: dict[str, Any] = {}
            as_union: dict[str, bool] = {}
            changed = True
            while changed:
                changed = False
                for name, sub in self.defs.items():
                    flag = name in self._union_refs
                    if as_union.get(name) is not flag:
                        where = f"{self.defs_key}.{name}"
                        converted[name] = self.node(sub, where, depth=1, in_union=flag)[0]
                        as_union[name] = flag
                        changed = True
            out[self.defs_key] = converted
        return out

    def node(
        self, schema: Any, path: str, *, depth: int, in_union: bool
    ) -> tuple[dict[str, Any], Any]:
        """Convert one subschema; return it and its ``default`` (removed from it)."""
        where = path or "the root"
        if not isinstance(schema, Mapping):
            raise NotStrictError(f"{where}: boolean or non-object schema")
        if depth > MAX_DEPTH:
            raise NotStrictError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        unknown = sorted(set(schema) - _ALLOWED_KEYS)
        if unknown:
            raise NotStrictError(f"{where}: keyword '{unknown[0]}' is not supported in strict mode")
        if path and ("$defs" in schema or "definitions" in schema):
            raise NotStrictError(f"{where}: nested definitions")

        if "$ref" in schema:
            siblings = {k: v for k, v in schema.items() if k not in ("$ref", "$comment")}
            target = self.resolve(schema["$ref"], where)
            if not siblings:
                if in_union:
                    self._union_refs.add(str(schema["$ref"]).rsplit("/", 1)[-1])
                return {"$ref": schema["$ref"]}, _MISSING
            # Strict mode refuses keywords next to $ref: inline the target, siblings on top.
            ref = str(schema["$ref"])
            if ref in self._inlining:
                raise NotStrictError(f"{where}: recursive $ref with sibling keywords")
            self._inlining.append(ref)
            try:
                return self.node({**target, **siblings}, path, depth=depth, in_union=in_union)
            finally:
                self._inlining.pop()

        default = schema.get("default", _MISSING)
        out: dict[str, Any] = {
            k: v for k, v in schema.items() if k not in ("default", "$schema", "$comment")
        }
        kinds = self.types(schema, where)

        if "format" in schema and schema["format"] not in _FORMATS:
            raise NotStrictError(f"{where}: format '{schema['format']}' is not supported")
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values or len(values) > MAX_ENUM:
                raise NotStrictError(f"{where}: enum must be a list of 1 to {MAX_ENUM} values")

        if "anyOf" in schema:
            branches = schema["anyOf"]
            if not isinstance(branches, list) or not branches:
                raise NotStrictError(f"{where}: anyOf must be a non-empty list")
            # ``X | None`` is not a real union: nulls can still be restored inside X.
            union = in_union or len([b for b in branches if not _is_null(b)]) > 1
            out["anyOf"] = [
                self.node(b, f"{path}.anyOf[{i}]", depth=depth, in_union=union)[0]
                for i, b in enumerate(branches)
            ]
        elif not kinds and "enum" not in schema and "const" not in schema:
            raise NotStrictError(f"{where}: no type (accepts any value)")

        if "object" in kinds or "properties" in schema:
            out.update(self.object(schema, path, depth=depth, in_union=in_union))
        if "array" in kinds:
            items = schema.get("items")
            if not isinstance(items, Mapping):
                raise NotStrictError(f"{where}: array without a single items schema")
            out["items"] = self.node(items, f"{path}[]", depth=depth + 1, in_union=in_union)[0]
        return out, default

    def object(
        self, schema: Mapping[str, Any], path: str, *, depth: int, in_union: bool
    ) -> dict[str, Any]:
        where = path or "the root"
        extra = schema.get("additionalProperties", False)
        if extra is not False:
            raise NotStrictError(f"{where}: object accepts additional properties")
        props = schema.get("properties")
        if props is None:
            if path:
                raise NotStrictError(f"{where}: object without declared properties")
            props = {}
        if not isinstance(props, Mapping):
            raise NotStrictError(f"{where}: properties is not an object")
        required = schema.get("required", [])
        if not isinstance(required, list) or any(r not in props for r in required):
            raise NotStrictError(f"{where}: required names a property that is not declared")
        self.properties += len(props)
        if self.properties > MAX_PROPERTIES:
            raise NotStrictError(f"more than {MAX_PROPERTIES} properties")

        out_props: dict[str, Any] = {}
        for key, sub in props.items():
            child_path = f"{path}.{key}" if path else str(key)
            child, default = self.node(sub, child_path, depth=depth + 1, in_union=in_union)
            if key in required:
                out_props[key] = child
                continue
            nullable = self.admits_null(sub)
            if nullable and default not in (_MISSING, None):
                raise NotStrictError(
                    f"{child_path}: optional and nullable with default {json.dumps(default)}; "
                    "null would no longer mean 'not given'"
                )
            if in_union and not nullable:
                raise NotStrictError(f"{child_path}: optional property inside anyOf")
            if not in_union:
                self.restore = True
            if default not in (_MISSING, None):
                child = _describe_default(child, default)
            out_props[key] = child if nullable else _nullable(child)
        return {
            "type": schema.get("type", "object"),
            "properties": out_props,
            "required": list(out_props),
            "additionalProperties": False,
        }

    def types(self, schema: Mapping[str, Any], where: str) -> list[str]:
        kind = schema.get("type")
        if kind is None:
            return []
        kinds = [kind] if isinstance(kind, str) else kind
        if not isinstance(kinds, list) or any(k not in _TYPES for k in kinds):
            raise NotStrictError(f"{where}: unknown type {kind!r}")
        return kinds

    def resolve(self, ref: Any, where: str) -> Mapping[str, Any]:
        for prefix in ("#/$defs/", "#/definitions/"):
            if isinstance(ref, str) and ref.startswith(prefix):
                target = self.defs.get(ref[len(prefix) :])
                if isinstance(target, Mapping):
                    return target
        raise NotStrictError(f"{where}: $ref {ref!r} does not point into the schema's definitions")

    def admits_null(self, schema: Any, seen: frozenset[str] = frozenset()) -> bool:
        return admits_null(schema, self.defs, seen)


def admits_null(schema: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``schema`` accepts ``null`` (following ``$ref`` into ``defs``)."""
    if not isinstance(schema, Mapping):
        return schema is True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "const" in schema and schema["const"] is None:
        return True
    if isinstance(schema.get("enum"), list) and None in schema["enum"]:
        return True
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and any(admits_null(b, defs, seen) for b in branches):
            return True
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        name = ref.rsplit("/", 1)[-1]
        if name in defs:
            return admits_null(defs[name], defs, seen | {ref})
    return False


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _single_branch(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The one non-null branch of ``anyOf: [X, {type: null}]``, if that is the shape."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return None
    rest = [b for b in branches if not _is_null(b)]
    return rest[0] if len(rest) == 1 and isinstance(rest[0], Mapping) else None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema, also accepting ``null``; description and title stay outermost."""
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema and "const" not in schema:
        return {**schema, "type": [kind, "null"]}
    outer: dict[str, Any] = {k: schema[k] for k in ("title", "description") if k in schema}
    inner = {k: v for k, v in schema.items() if k not in outer}
    if "anyOf" in inner and len(inner) == 1:
        return {**outer, "anyOf": [*inner["anyOf"], {"type": "null"}]}
    return {**outer, "anyOf": [inner, {"type": "null"}]}


def _describe_default(schema: dict[str, Any], default: Any) -> dict[str, Any]:
    note = f"default: {json.dumps(default, ensure_ascii=False)}"
    text = schema.get("description")
    return {**schema, "description": f"{text} ({note})" if text else note.capitalize()}


def restore_arguments(arguments: Any, schema: Mapping[str, Any]) -> Any:
    """Undo the strict conversion on a call: drop ``null`` for optional properties.

    ``schema`` is the tool's *original* input schema. Nulls on properties the original schema
    requires are left alone (the server will say what is wrong), and so is anything under a
    real ``anyOf`` (the conversion never needs it there; ``X | None`` is followed into ``X``).
    Returns a new value; the input is kept.
    """
    defs_key = "$defs" if "$defs" in schema else "definitions"
    defs = schema.get(defs_key) or {}
    return _restore(copy.deepcopy(arguments), schema, defs, 0)


def _restore(value: Any, schema: Any, defs: Mapping[str, Any], depth: int) -> Any:
    if depth > 64 or not isinstance(schema, Mapping):
        return value
    if value is None:
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        if isinstance(target, Mapping):
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
    if (single := _single_branch(schema)) is not None:
        return _restore(value, single, defs, depth + 1)
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, Mapping):
            required = schema.get("required") or ()
            for key in list(value):
                sub = props.get(key)
                if sub is None:
                    continue
                if value[key] is None and key not in required:
                    del value[key]
                else:
                    value[key] = _restore(value[key], sub, defs, depth + 1)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_restore(v, items, defs, depth + 1) for v in value]
    return value
