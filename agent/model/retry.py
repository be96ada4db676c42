"""Retry timing: jittered exponential backoff that defers to the server's ``retry-after``.

Jitter matters because many agents hitting one rate limit at once would otherwise retry in
lockstep and collide again; honouring ``retry-after`` matters because the server knows
exactly when the limit resets and retrying earlier only burns another 429.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a model request.

    ``max_retries`` counts retries after the first attempt. The n-th retry (0-based) waits
    ``base_delay * 2**n`` seconds, capped at ``max_delay``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]``. A server's ``retry-after`` replaces the computed delay
    (plus up to ``jitter`` of it, never less), unless it exceeds ``max_retry_after``: then
    waiting is pointless for an interactive tool and the error is raised instead.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 0.2
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or ``None`` to give up."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after * (1 + random.uniform(0, self.jitter))
        backoff = min(self.max_delay, self.base_delay * (2.0**attempt))
        return max(0.0, backoff * random.uniform(1 - self.jitter, 1 + self.jitter))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` (OpenAI's precise variant) or
    ``retry-after`` (seconds, or an HTTP date). ``None`` when absent or unparsable."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
