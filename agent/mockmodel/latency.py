"""The latency model: when each event of a response leaves the server.

A benchmark of the agent is only meaningful against a server that behaves like a real
deployment, so the mock model can wait as a hosted model would:

- ``overhead_ms`` per request before anything is sent (routing, queueing, auth);
- ``per_input_kb_ms`` for each kilobyte of prompt that is *not* served from the prompt
  cache (prefill is what a cache hit saves, so cached input is free here too);
- ``ttft_ms`` between ``response.in_progress`` and the first output;
- ``tokens_per_second`` for every streamed piece of text, arguments and reasoning summary,
  plus any hidden reasoning tokens a script declares (0 means no limit).

Times are offsets from the moment the request arrived; the transports sleep until each
offset, and send everything that is due in one write. All zeros (the default) means "as
fast as the server can go", which is what unit tests want.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.mockmodel.tokens import BYTES_PER_TOKEN


class LatencyModel(BaseModel):
    """How long a response takes; every field is milliseconds unless it says otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overhead_ms: float = Field(default=0.0, ge=0, description="Fixed cost per request.")
    ttft_ms: float = Field(default=0.0, ge=0, description="Time to first output token.")
    tokens_per_second: float = Field(
        default=0.0, ge=0, description="Streaming speed of output pieces; 0 means unlimited."
    )
    per_input_kb_ms: float = Field(
        default=0.0, ge=0, description="Prefill cost per KiB of prompt not served from cache."
    )
    tokens_per_delta: int = Field(
        default=1, ge=1, description="Pieces per text or arguments delta event."
    )

    @property
    def is_instant(self) -> bool:
        return (
            self.overhead_ms == 0
            and self.ttft_ms == 0
            and self.tokens_per_second == 0
            and self.per_input_kb_ms == 0
        )

    def prefill_ms(self, input_tokens: int, cached_tokens: int) -> float:
        uncached_bytes = max(0, input_tokens - cached_tokens) * BYTES_PER_TOKEN
        return self.per_input_kb_ms * uncached_bytes / 1024

    def first_output_ms(self, input_tokens: int, cached_tokens: int) -> float:
        """Offset of the first output event."""
        return self.overhead_ms + self.prefill_ms(input_tokens, cached_tokens) + self.ttft_ms

    def token_ms(self) -> float:
        """Time per output piece."""
        return 1000.0 / self.tokens_per_second if self.tokens_per_second > 0 else 0.0
