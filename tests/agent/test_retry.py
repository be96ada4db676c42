from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from agent.model.errors import is_retryable
from agent.model.retry import RetryPolicy, parse_retry_after


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=1.0, max_delay=5.0, jitter=0.2)
    for attempt, nominal in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (6, 5.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(d is not None and nominal * 0.8 <= d <= nominal * 1.2 for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_and_is_never_shortened() -> None:
    policy = RetryPolicy(base_delay=0.01, jitter=0.1)
    for _ in range(50):
        delay = policy.delay(0, retry_after=3.0)
        assert delay is not None and 3.0 <= delay <= 3.3


def test_gives_up_after_max_retries_or_an_absurd_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=60)
    assert policy.delay(2) is None
    assert policy.delay(0, retry_after=61) is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    parsed = parse_retry_after({"retry-after": later})
    assert parsed is not None and 25 < parsed <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_which_errors_are_retried() -> None:
    assert is_retryable(429, "rate_limit_exceeded")
    assert is_retryable(500, None) and is_retryable(503, None) and is_retryable(599, None)
    assert is_retryable(None, "server_error")
    assert not is_retryable(429, "insufficient_quota")
    assert not is_retryable(400, "invalid_request_error")
    assert not is_retryable(401, None)
    assert not is_retryable(None, "context_length_exceeded")
