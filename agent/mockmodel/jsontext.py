"""Compact JSON text, with room for values that are already encoded.

What the mock model sends — events, response and error bodies — and the prompt header it
counts tokens on are compact JSON with non-ASCII characters left as they are, from one
encoder built once (``json.dumps`` with options builds a new encoder per call).

:func:`dumps_with` exists for the request settings a response echoes. ``response.created``,
``response.in_progress`` and the terminal event all carry the request's ``tools`` array (tens
of kilobytes), and so does the prompt the token count is taken from. Encoding it once per
distinct array and splicing the text in, rather than four times per response, was the
largest single saving in the mock's cost per request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""Compact JSON text of a value."""


def dumps_with(obj: Mapping[str, Any], key: str, encoded: str) -> str:
    """``dumps(obj)``, except that the value of ``obj[key]`` is given already encoded as
    ``encoded`` (which must be ``dumps(obj[key])``). Key order is kept.

    The members before and after ``key`` are encoded as two objects and the three texts
    joined, which is exact because compact JSON separates members with a bare comma.
    """
    if key not in obj:
        raise KeyError(key)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    side = before
    for name, value in obj.items():
        if name == key:
            side = after
        else:
            side[name] = value
    head = dumps(before)[:-1] + ("," if before else "")
    tail = ("," if after else "") + dumps(after)[1:]
    return f"{head}{dumps(key)}:{encoded}{tail}"
