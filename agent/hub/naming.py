"""Model-visible tool names: plain for bundled servers, ``server__tool`` for everything else.

The Responses API accepts function names matching ``^[a-zA-Z0-9_-]{1,64}$``. MCP tool names
are looser (dots, slashes, any length), and two servers may both offer ``search``. So every
tool gets a name here, decided from the *whole* set of tools at once (never in the order
servers happened to start), which makes the result the same on every turn and every run:

* a bundled server's tool keeps its own name (``read_file``), the names models trained on
  Codex expect;
* any other tool becomes ``server__tool``, with every disallowed character replaced by ``_``;
* a name that is too long, or that two different tools would share, is cut and given a short
  hash of the original ``(server, tool)`` pair, so it stays stable and distinct.

The mapping is kept both ways (:class:`ToolName`), so a ``function_call`` is routed back to
the exact server and original name, and ``toolwire tools`` can show it.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MAX_NAME = 64
SEPARATOR = "__"
_DISALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
HASH_CHARS = 8


@dataclass(frozen=True, slots=True)
class ToolName:
    """One tool's identity: where it lives and what the model calls it."""

    server: str
    original: str
    bundled: bool


def sanitize(text: str) -> str:
    """Replace every character the API refuses with ``_`` (an empty result becomes ``_``)."""
    return _DISALLOWED.sub("_", text) or "_"


def candidate(tool: ToolName) -> str:
    """The name a tool would get if nothing collided and length were unlimited."""
    if tool.bundled:
        return sanitize(tool.original)
    return f"{sanitize(tool.server)}{SEPARATOR}{sanitize(tool.original)}"


def _digest(tool: ToolName, length: int) -> str:
    raw = f"{tool.server}\x00{tool.original}".encode()
    return hashlib.sha256(raw).hexdigest()[:length]


def hashed(tool: ToolName, base: str, length: int = HASH_CHARS) -> str:
    """``base`` cut to fit, plus ``_`` and a hash of the original pair: stable and distinct."""
    suffix = f"_{_digest(tool, length)}"
    return base[: MAX_NAME - len(suffix)] + suffix


def assign(tools: Iterable[ToolName]) -> dict[ToolName, str]:
    """Give every tool a unique, valid model-visible name.

    Deterministic in the *set* of tools: the input order does not matter. Within a group of
    tools that want the same name, a single bundled tool keeps it (the bundled names are part
    of the contract); every other member is hashed.
    """
    unique = sorted(set(tools), key=lambda t: (t.server, t.original, t.bundled))
    groups: dict[str, list[ToolName]] = defaultdict(list)
    for tool in unique:
        groups[candidate(tool)].append(tool)

    names: dict[ToolName, str] = {}
    needs_hash: list[ToolName] = []
    for base, members in groups.items():
        bundled = [t for t in members if t.bundled]
        keeper = bundled[0] if len(bundled) == 1 else (members[0] if len(members) == 1 else None)
        for tool in members:
            if tool is keeper and len(base) <= MAX_NAME:
                names[tool] = base
            else:
                needs_hash.append(tool)

    # Plain names are distinct by construction (one per group). A hash could, in theory, equal
    # a plain name or another hash; lengthen it until it is free. Sorted order keeps this stable.
    taken = set(names.values())
    for tool in sorted(needs_hash, key=lambda t: (t.server, t.original, t.bundled)):
        length = HASH_CHARS
        name = hashed(tool, candidate(tool), length)
        while name in taken:
            length += 4
            name = hashed(tool, candidate(tool), length)
        names[tool] = name
        taken.add(name)
    return names
