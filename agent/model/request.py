"""Requests built from pre-encoded bytes, so a turn costs the same at item 10 and item 1,000.

Two observations drive this module. First, everything in a request except ``input`` (the
model, instructions, the tens-of-kilobytes ``tools`` array, ``store``, ``include`` ...) is
the same on every turn of a session, so it is encoded once into :attr:`RequestTemplate.static`.
Second, the conversation is append-only, so each item is encoded exactly once, when it joins
the :class:`History`, and the encoded input is kept as one growing buffer. Building a request
is then a handful of byte concatenations, never a walk over Python objects; the official
SDK's per-item transforms (about 0.45 ms per item, see the brief) are avoided entirely.

Item dicts are stored as received (reasoning items keep their ``encrypted_content`` and
everything else verbatim) and must not be mutated after they are appended: their bytes are
already fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Item = Mapping[str, Any]
"""An input or output item as plain JSON data (see :mod:`schemas.responses` for shapes)."""

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def encode(value: object) -> bytes:
    """Compact JSON as UTF-8. One shared encoder: ``json.dumps`` with non-default options
    builds a new encoder on every call."""
    return _encoder.encode(value).encode()


class History:
    """The conversation sent to the model: append-only, each item encoded once.

    ``epoch`` changes whenever the history is rewritten rather than extended (compaction,
    dropping an incomplete tail); a transport that sends only new items uses it to notice
    that the server's copy no longer matches.
    """

    __slots__ = ("_joined", "encoded", "epoch", "items")

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self.items: list[Item] = []
        self.encoded: list[bytes] = []
        self.epoch = 0
        self._joined = bytearray()
        self.extend(items)

    def __len__(self) -> int:
        return len(self.items)

    def append(self, item: Item) -> bytes:
        data = encode(item)
        self.items.append(item)
        self.encoded.append(data)
        if self._joined:
            self._joined += b","
        self._joined += data
        return data

    def extend(self, items: Iterable[Item]) -> None:
        for item in items:
            self.append(item)

    def replace(self, items: Iterable[Item]) -> None:
        """Rewrite the whole history (a new epoch)."""
        self.items = []
        self.encoded = []
        self._joined = bytearray()
        self.extend(items)
        self.epoch += 1

    def copy(self) -> History:
        """A history with the same items and bytes (and epoch) that can grow separately:
        the items are shared, nothing is re-encoded."""
        other = History()
        other.items = list(self.items)
        other.encoded = list(self.encoded)
        other.epoch = self.epoch
        other._joined = bytearray(self._joined)
        return other

    def truncate(self, length: int) -> None:
        """Drop items from ``length`` on (a new epoch)."""
        if length < len(self.items):
            self.replace(self.items[:length])

    @property
    def joined(self) -> bytearray:
        """All items, comma-separated: the inside of ``"input": [...]``."""
        return self._joined

    def joined_from(self, start: int) -> bytes:
        """Items from ``start`` on, comma-separated."""
        if start <= 0:
            return bytes(self._joined)
        return b",".join(self.encoded[start:])

    def size(self) -> int:
        """Encoded size of the whole input, in bytes."""
        return len(self._joined)


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """Every field of a ``responses.create`` request except ``input``, encoded once.

    ``tools`` may be given already serialized (the hub keeps a byte-stable array) or as a
    list, which is then serialized here, once. ``extra`` holds any other top-level fields
    (``text``, ``max_output_tokens`` ...), passed through as given.
    """

    model: str
    instructions: str | None = None
    tools: bytes | Sequence[Mapping[str, Any]] = b"[]"
    store: bool = False
    include: tuple[str, ...] = ()
    prompt_cache_key: str | None = None
    reasoning: Mapping[str, Any] | None = None
    parallel_tool_calls: bool = True
    tool_choice: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    static: bytes = field(init=False, repr=False, compare=False)
    """``"model":...,"instructions":...,"tools":[...],...`` without braces or ``input``."""

    def __post_init__(self) -> None:
        tools = self.tools if isinstance(self.tools, bytes) else encode(list(self.tools))
        head: dict[str, Any] = {"model": self.model}
        if self.instructions is not None:
            head["instructions"] = self.instructions
        tail: dict[str, Any] = {}
        if self.tool_choice is not None:
            tail["tool_choice"] = self.tool_choice
        tail["parallel_tool_calls"] = self.parallel_tool_calls
        tail["store"] = self.store
        if self.include:
            tail["include"] = list(self.include)
        if self.prompt_cache_key is not None:
            tail["prompt_cache_key"] = self.prompt_cache_key
        if self.reasoning is not None:
            tail["reasoning"] = dict(self.reasoning)
        tail.update(self.extra)
        static = encode(head)[1:-1] + b',"tools":' + tools + b"," + encode(tail)[1:-1]
        object.__setattr__(self, "static", static)

    def http_body(self, history: History) -> bytes:
        """The streaming ``POST /responses`` body with the full input."""
        return b"".join((b"{", self.static, b',"stream":true,"input":[', history.joined, b"]}"))

    def ws_frame(self, items: bytes | bytearray, previous_response_id: str | None) -> bytes:
        """A ``response.create`` frame carrying ``items`` (already comma-joined)."""
        previous = b""
        if previous_response_id is not None:
            previous = b',"previous_response_id":' + encode(previous_response_id)
        return b"".join(
            (b'{"type":"response.create",', self.static, previous, b',"input":[', items, b"]}")
        )

    def body_without_stream(self, history: History) -> bytes:
        """A non-streaming body (used for one-off requests such as a hand-off summary)."""
        return b"".join((b"{", self.static, b',"input":[', history.joined, b"]}"))
