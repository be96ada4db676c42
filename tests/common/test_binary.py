"""The one binary-file rule shared by the files, search and patch servers."""

from __future__ import annotations

from servers.common.binary import SNIFF_BYTES, has_nul


def test_nul_near_the_start_means_binary() -> None:
    assert has_nul(b"\x7fELF\x02\x01\x01\x00")
    assert has_nul(b"a" * (SNIFF_BYTES - 1) + b"\x00")


def test_text_and_late_nul_are_not_binary() -> None:
    assert not has_nul("plain text, ünïcode\r\n".encode())
    assert not has_nul(b"")
    assert not has_nul(b"a" * SNIFF_BYTES + b"\x00")  # past the sniffed window, as rg and git
