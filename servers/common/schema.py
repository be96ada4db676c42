"""JSON Schema rewriting for what our tools advertise.

Pydantic describes nested models with ``$defs`` and ``$ref``. Clients validate every
``structuredContent`` against the tool's ``outputSchema``, and with the common ``jsonschema``
library each ``$ref`` costs a URI resolution *per validated object*: on a page of 100 search
matches that was most of the client's validation time. The same schema with its definitions
written in place validates the same documents, so output schemas are published that way.
"""

from __future__ import annotations

import copy
from typing import Any

_PREFIX = "#/$defs/"


class _RecursiveRefError(Exception):
    """A definition refers to itself (directly or not): it cannot be written in place."""


def inline_local_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with every ``{"$ref": "#/$defs/Name"}`` replaced by that definition.

    Keys beside a ``$ref`` (a description, a default) are kept on the inlined copy. A schema
    with recursive definitions, or a reference to a missing one, is returned unchanged.
    """
    defs = schema.get("$defs")
    if not isinstance(defs, dict) or not defs:
        return schema
    try:
        body = {k: v for k, v in schema.items() if k != "$defs"}
        result = _inline(body, defs, ())
    except _RecursiveRefError:
        return schema
    assert isinstance(result, dict)
    return result


def _inline(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_PREFIX):
        name = ref[len(_PREFIX) :]
        if name in stack or name not in defs:
            raise _RecursiveRefError(name)
        target = _inline(copy.deepcopy(defs[name]), defs, (*stack, name))
        siblings = {k: _inline(v, defs, stack) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {key: _inline(value, defs, stack) for key, value in node.items()}
