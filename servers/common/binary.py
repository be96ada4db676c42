"""One rule for "is this a binary file", so that reading, searching and patching agree on it.

A NUL byte within the first 8 KiB: the test git and ripgrep use. Text in any 8-bit encoding or
in UTF-8 never contains NUL; UTF-16 and UTF-32 do, so callers check for their byte-order marks
first when they support them.
"""

from __future__ import annotations

SNIFF_BYTES = 8192


def has_nul(head: bytes) -> bool:
    """True when the first :data:`SNIFF_BYTES` of ``head`` contain a NUL byte."""
    return b"\x00" in head[:SNIFF_BYTES]
