"""Word statistics for plain text."""

from textstats.words import top_words, words

__all__ = ["top_words", "words"]
