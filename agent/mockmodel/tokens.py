"""Deterministic token arithmetic for the mock model.

A real tokenizer is neither needed nor wanted: tests must be able to predict the numbers,
and benchmarks need them to be cheap. The rules, documented in the README:

- **Input tokens** = ceil(bytes / 4) of the request's canonical prompt (see
  :mod:`agent.mockmodel.prompt`). Four bytes per token is the usual rule of thumb for
  English text and JSON.
- **Output tokens** = the number of *pieces* the output is streamed in. A piece is a word
  with its leading space, a run of up to three digits, or a run of punctuation — roughly
  what a BPE tokenizer produces — and one piece is the unit of both ``tokens_per_second``
  and the text deltas.
- **Cached tokens** follow the prefix cache: nothing below 1,024 tokens of shared prefix,
  then 1,024 plus whole 128-token steps.
"""

from __future__ import annotations

import re

BYTES_PER_TOKEN = 4
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128

_PIECE = re.compile(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|_+|\s+(?!\S)|\s+")


def estimate_tokens(nbytes: int) -> int:
    """Tokens for ``nbytes`` bytes of prompt: ceil(nbytes / 4)."""
    return -(-nbytes // BYTES_PER_TOKEN)


def prefix_tokens(nbytes: int) -> int:
    """Whole tokens covered by a shared prefix of ``nbytes`` bytes (floor, because a
    partially shared token is not shared)."""
    return nbytes // BYTES_PER_TOKEN


def cached_tokens(shared_prefix_tokens: int) -> int:
    """Tokens served from cache for a shared prefix: 0 below 1,024, else 1,024 plus whole
    128-token steps."""
    if shared_prefix_tokens < CACHE_MIN_TOKENS:
        return 0
    steps = (shared_prefix_tokens - CACHE_MIN_TOKENS) // CACHE_STEP_TOKENS
    return CACHE_MIN_TOKENS + steps * CACHE_STEP_TOKENS


def split_pieces(text: str) -> list[str]:
    """Split text into token-sized pieces; ``"".join(split_pieces(t)) == t`` always."""
    if not text:
        return []
    return _PIECE.findall(text)


def group_pieces(pieces: list[str], per_delta: int) -> list[str]:
    """Join consecutive pieces into deltas of ``per_delta`` pieces each."""
    if per_delta <= 1:
        return pieces
    return ["".join(pieces[i : i + per_delta]) for i in range(0, len(pieces), per_delta)]
