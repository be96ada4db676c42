"""The prompt-cache model: how many input tokens a request gets from cache.

A request shares a prefix with earlier prompts of the same ``prompt_cache_key`` (requests
without a key share one bucket). The longest shared prefix, in whole tokens, is turned into
cached tokens by :func:`agent.mockmodel.tokens.cached_tokens` (1,024 minimum, 128-token
steps). Every processed prompt is then remembered for later requests.

Only the last few prompts per key are kept, and only so many keys: a growing conversation
always extends its most recent prompt, so a short memory loses nothing that matters while
keeping a long benchmark's memory flat.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from agent.mockmodel.tokens import cached_tokens, prefix_tokens


def common_prefix_len(a: bytes, b: bytes, *, chunk: int = 1 << 15) -> int:
    """Length of the longest common prefix of two byte strings.

    The usual case, a conversation that extends an earlier prompt, is one C-level
    ``startswith``. Otherwise whole chunks are compared (slice equality is a memcmp) until
    one differs, and a binary search inside that chunk finds the first differing byte:
    about 0.05 ms for a 1 MB prompt.
    """
    if len(a) > len(b):
        a, b = b, a
    if b.startswith(a):
        return len(a)
    n = len(a)
    i = 0
    while a[i : i + chunk] == b[i : i + chunk]:
        i += chunk
    lo, hi = i, min(i + chunk, n)  # invariant: a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class PromptCache:
    """Remembers recent prompts per cache key and answers "how much of this is cached"."""

    def __init__(self, *, per_key: int = 8, max_keys: int = 1024) -> None:
        self._per_key = per_key
        self._max_keys = max_keys
        self._prompts: OrderedDict[str, deque[bytes]] = OrderedDict()

    def lookup(self, key: str | None, prompt: bytes) -> int:
        """Cached tokens for ``prompt``, then remember it."""
        bucket_key = key or ""
        bucket = self._prompts.get(bucket_key)
        best = 0
        if bucket is None:
            bucket = deque(maxlen=self._per_key)
            self._prompts[bucket_key] = bucket
            if len(self._prompts) > self._max_keys:
                self._prompts.popitem(last=False)
        else:
            self._prompts.move_to_end(bucket_key)
            for earlier in reversed(bucket):
                best = max(best, common_prefix_len(earlier, prompt))
                if best == len(prompt):
                    break
        bucket.append(prompt)
        return cached_tokens(prefix_tokens(best))

    def clear(self) -> None:
        self._prompts.clear()
