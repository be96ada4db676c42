"""JSON Schema rewriting for what our tools advertise.

Pydantic describes nested models with ``$defs`` and ``$ref``. Clients validate every
``structuredContent`` against the tool's ``outputSchema``, and with the common ``jsonschema``
library each ``$ref`` costs a URI resolution *per validated object*: on a page of 100 search
matches that was most of the client's validation time. The same schema with its definitions
written in place validates the same documents, so output schemas are published that way.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

_PREFIX = "#/$defs/"
logger = logging.getLogger(__name__)


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


def compile_fast(schema: dict[str, Any]) -> Any | None:
    """A compiled (``jsonschema-rs``) validator for ``schema``, or None if it cannot be built.

    Checking a 100-match search page takes it about 0.014 ms, against 3.4 ms for the
    pure-Python ``jsonschema`` and 0.1-0.3 ms for a pydantic validation of the model behind it.
    Remote ``$ref`` s are refused rather than fetched: a schema must stand on its own.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the wheel exists for every platform we ship to
        return None

    def no_remote(uri: str) -> Any:
        raise ValueError(f"remote $ref not followed: {uri}")

    try:
        return jsonschema_rs.validator_for(schema, retriever=no_remote)
    except Exception as exc:  # a schema it cannot handle: the caller keeps its slower check
        logger.debug("no compiled validator for an output schema: %s", exc)
        return None
