"""What can go wrong talking to a model, sorted by what the caller should do about it.

The transports turn every failure (an HTTP status, an in-stream ``error`` or
``response.failed`` event, a WebSocket close, a socket error) into one of these, so that the
retry logic and the agent loop decide on a few attributes rather than on transport details:
``retryable`` says whether trying again can help, ``retry_after`` carries the server's own
advice, and :class:`StreamInterruptedError` marks the one case where retrying is wrong because
the caller has already committed part of the response.
"""

from __future__ import annotations


class ModelError(Exception):
    """A request to the model failed.

    ``status`` is the HTTP status (or the WebSocket error's HTTP-equivalent ``status``);
    ``code`` the API's error code when it gave one (``rate_limit_exceeded``,
    ``previous_response_not_found`` ...).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}{', ' + self.code if self.code else ''})")
        elif self.code:
            parts.append(f"({self.code})")
        return " ".join(parts)


class StreamInterruptedError(ModelError):
    """The stream broke after at least one output item was complete.

    The transport does not retry this: the caller has already seen (and may have saved or
    shown) those items, and a fresh response would produce different ones. The agent loop
    keeps what completed and continues from there in a new request.
    """


class UpgradeRefusedError(ModelError):
    """The server answered the WebSocket upgrade with a refusal (HTTP 426 and friends):
    this endpoint has no WebSocket mode, so the session switches to HTTP for good."""


class ContextWindowExceededError(ModelError):
    """The input no longer fits the model's context window (``context_length_exceeded``)."""


RETRYABLE_STATUS: frozenset[int] = frozenset({408, 409, 429, 500, 502, 503, 504})
"""Statuses where the same request may succeed later. Any other 5xx is retried too."""

RETRYABLE_CODES: frozenset[str] = frozenset(
    {
        "server_error",
        "internal_error",
        "rate_limit_exceeded",
        "server_is_overloaded",
        "overloaded",
        "slow_down",
        "timeout",
    }
)
"""In-stream error codes (``error`` events, ``response.failed``) worth retrying."""

FATAL_CODES: frozenset[str] = frozenset({"insufficient_quota", "invalid_api_key"})
"""Codes that come with a retryable status (429, 401) but will not get better."""


def is_retryable(status: int | None, code: str | None) -> bool:
    """Whether an error with this status and code may succeed on a second try."""
    if code in FATAL_CODES:
        return False
    if code in RETRYABLE_CODES:
        return True
    if status is None:
        return False
    return status in RETRYABLE_STATUS or status >= 500
