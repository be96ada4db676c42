"""Splitting text into words and counting them."""

import re
from collections import Counter

_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, with punctuation dropped."""
    return _WORD.findall(text)


def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` most frequent words and their counts, most frequent first (ties in
    alphabetical order)."""
    counts = Counter(words(text))
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:n]
