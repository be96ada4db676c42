"""Parsing request bodies without parsing the same bytes twice.

An agent repeats itself: every request carries the same ``tools`` array (tens of kilobytes)
and, over HTTP, the whole conversation so far followed by a few new items. Parsed, validated,
scanned and re-encoded from scratch, those bytes made the mock's cost per request grow with
the conversation, and the mock shares the machine with the client a benchmark measures. So
the top-level object is parsed one member at a time (each value by the C scanner of
:mod:`json`), which tells where each value's text lies, and:

- a ``tools`` array whose text was seen recently is not parsed again: its value, and its
  compact JSON (for the prompt and the echoed response), come from :class:`KnownTools`;
- an ``input`` array whose text begins with the items of an input remembered after an
  earlier request (that array's text without its closing bracket, then ``,`` or ``]``)
  reuses those items, and what was derived from them (:class:`KnownInput`); only the rest
  is parsed, validated and scanned.

Reuse is keyed on exact text, so it is exact: the same characters parse to the same values,
which passed the same checks. Values from memory are shared between requests and never
mutated. Anything else — a body that is not a JSON object in UTF-8, invalid JSON — goes to
:func:`json.loads`, which also produces the error the client gets.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from agent.mockmodel import errors
from agent.mockmodel.conversation import Context
from agent.mockmodel.jsontext import dumps

_decode_at = json.JSONDecoder().raw_decode
"""``(value, end)`` of the JSON value that starts exactly at an index."""
_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(slots=True)
class KnownTools:
    """A ``tools`` array as the client wrote it, parsed, and encoded our way."""

    text: str
    value: list[Any]
    json: str
    checked: bool = False
    """It passed validation (which then need not look at it again)."""


@dataclass(frozen=True, slots=True)
class KnownInput:
    """An ``input`` array that passed validation, remembered by its text without the
    closing bracket, with its :class:`~agent.mockmodel.conversation.Context`."""

    head: str
    context: Context


@dataclass(slots=True)
class Parsed:
    """A request body and what the memo knows about it."""

    data: dict[str, Any]
    tools: KnownTools | None = None
    """The ``tools`` value's entry, when ``tools`` is an array."""
    known_input: KnownInput | None = None
    """An earlier input whose items begin this ``input``."""
    input_head: str | None = None
    """This ``input``'s text without its closing bracket, to remember it by."""


class RequestMemo:
    """The last few ``tools`` arrays and validated inputs, for the requests that repeat
    them. Used from the server's event loop only."""

    def __init__(self, size: int = 8) -> None:
        self._tools: OrderedDict[str, KnownTools] = OrderedDict()
        self._inputs: deque[KnownInput] = deque(maxlen=size)
        self._size = size

    def parse(self, raw: bytes | str) -> Parsed:
        """Parse a request body (HTTP) or frame (WebSocket); ``invalid_json`` if it is not
        a JSON object."""
        text: str | None
        if isinstance(raw, str):
            text = raw
        else:
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                text = None  # maybe UTF-16 or -32, which json.loads detects
        if text is not None:
            try:
                return self._parse_object(text)
            except ValueError:
                pass  # json.loads below says what is wrong
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise errors.invalid_json() from exc
        if not isinstance(data, dict):
            raise errors.invalid_json()
        return Parsed(data)

    def remember_input(self, head: str, context: Context) -> None:
        """Remember a validated input (with its context) for requests that extend it."""
        if context.items and not any(known.head == head for known in self._inputs):
            self._inputs.append(KnownInput(head, context))

    # -- parsing -----------------------------------------------------------------------

    def _parse_object(self, text: str) -> Parsed:
        """Like ``json.loads(text)`` for an object, member by member; ``ValueError`` for
        anything else."""
        parsed = Parsed({})
        i = _skip(text, 0)
        if text[i : i + 1] != "{":
            raise ValueError("not an object")
        i = _skip(text, i + 1)
        if text[i : i + 1] == "}":
            i += 1
        else:
            while True:
                if text[i : i + 1] != '"':
                    raise ValueError("expected a member name")
                key, i = _decode_at(text, i)
                i = _skip(text, i)
                if text[i : i + 1] != ":":
                    raise ValueError("expected ':'")
                i = _skip(text, i + 1)
                if key == "tools":
                    value, i = self._tools_at(text, i, parsed)
                elif key == "input":
                    value, i = self._input_at(text, i, parsed)
                else:
                    value, i = _decode_at(text, i)
                parsed.data[key] = value
                i = _skip(text, i)
                separator = text[i : i + 1]
                i += 1
                if separator == "}":
                    break
                if separator != ",":
                    raise ValueError("expected ',' or '}'")
                i = _skip(text, i)
        if _skip(text, i) != len(text):
            raise ValueError("extra data")
        return parsed

    def _tools_at(self, text: str, start: int, parsed: Parsed) -> tuple[Any, int]:
        parsed.tools = None
        for key, known in self._tools.items():
            # The text of a whole array: where it starts, the same array ends.
            if text.startswith(key, start):
                self._tools.move_to_end(key)
                parsed.tools = known
                return known.value, start + len(key)
        value, end = _decode_at(text, start)
        if isinstance(value, list):
            known = KnownTools(text[start:end], value, dumps(value))
            self._tools[known.text] = known
            if len(self._tools) > self._size:
                self._tools.popitem(last=False)
            parsed.tools = known
        return value, end

    def _input_at(self, text: str, start: int, parsed: Parsed) -> tuple[Any, int]:
        parsed.known_input = parsed.input_head = None
        if text[start : start + 1] != "[":
            return _decode_at(text, start)
        best: KnownInput | None = None
        for known in self._inputs:
            if (best is None or len(known.head) > len(best.head)) and text.startswith(
                known.head, start
            ):
                best = known
        value: Any = None
        end = -1
        if best is not None:
            rest = _rest_of_array(text, start + len(best.head))
            if rest is not None:
                value, end = [*best.context.items, *rest[0]], rest[1]
                parsed.known_input = best
        if end < 0:
            value, end = _decode_at(text, start)
        parsed.input_head = text[start : end - 1]
        return value, end


def _skip(text: str, i: int) -> int:
    """The index of the first non-whitespace character at or after ``i``."""
    match = _SPACE.match(text, i)
    return match.end() if match is not None else i


def _rest_of_array(text: str, i: int) -> tuple[list[Any], int] | None:
    """The elements of an array from ``i``, just after an element, to its end: ``None``
    when ``i`` is not just after an element (the array goes on within it)."""
    i = _skip(text, i)
    if text[i : i + 1] not in (",", "]"):
        return None
    items: list[Any] = []
    while text[i : i + 1] == ",":
        value, i = _decode_at(text, _skip(text, i + 1))
        items.append(value)
        i = _skip(text, i)
    if text[i : i + 1] != "]":
        raise ValueError("expected ',' or ']'")
    return items, i + 1
