"""Provider presets: where a model lives and which Responses API features it really has.

A provider is mostly a ``base_url``; the rest records what differs between a hosted OpenAI
endpoint and a local server (Ollama, vLLM, llama.cpp) so the agent never sends a feature the
server lacks: none of the local servers has the WebSocket mode or ``/responses/compact``,
and they neither produce encrypted reasoning nor know ``prompt_cache_key``. Any flag can be
overridden from the command line; ``--base-url`` alone keeps the preset's capabilities, which
is what a proxy or the scripted model server (``toolwire mock-model``, which implements the
whole OpenAI surface) wants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal

TransportChoice = Literal["http", "websocket", "auto"]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    base_url: str
    default_model: str
    api_key_env: str | None
    """Environment variable holding the API key; ``None`` when the server needs none."""
    key_required: bool
    websocket: bool
    """Offers the Responses WebSocket mode at ``{base_url}/responses``."""
    compact: bool
    """Offers ``POST {base_url}/responses/compact``."""
    encrypted_reasoning: bool
    """Understands ``include: ["reasoning.encrypted_content"]``."""
    cache_key: bool
    """Understands ``prompt_cache_key``."""
    context_window: int
    """Default context window (tokens) of its default model; ``--context-window`` overrides."""

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env) or None

    def with_overrides(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
    ) -> Provider:
        changed = self
        if base_url:
            changed = replace(changed, base_url=base_url.rstrip("/"))
        if model:
            changed = replace(changed, default_model=model)
        if api_key_env:
            changed = replace(changed, api_key_env=api_key_env)
        return changed

    def websocket_url(self) -> str:
        """``{base_url}/responses`` with the scheme switched to ws/wss."""
        url = self.base_url.rstrip("/") + "/responses"
        if url.startswith("https://"):
            return "wss://" + url[len("https://") :]
        if url.startswith("http://"):
            return "ws://" + url[len("http://") :]
        return url


PRESETS: dict[str, Provider] = {
    "openai": Provider(
        name="openai",
        base_url="https://api.openai.com/v1",
        default_model="gpt-5.2",
        api_key_env="OPENAI_API_KEY",
        key_required=True,
        websocket=True,
        compact=True,
        encrypted_reasoning=True,
        cache_key=True,
        context_window=272_000,
    ),
    "ollama": Provider(
        name="ollama",
        base_url="http://localhost:11434/v1",
        default_model="gpt-oss:20b",
        api_key_env=None,
        key_required=False,
        websocket=False,
        compact=False,
        encrypted_reasoning=False,
        cache_key=False,
        context_window=32_768,
    ),
    "vllm": Provider(
        name="vllm",
        base_url="http://localhost:8000/v1",
        default_model="openai/gpt-oss-20b",
        api_key_env="VLLM_API_KEY",
        key_required=False,
        websocket=False,
        compact=False,
        encrypted_reasoning=False,
        cache_key=False,
        context_window=131_072,
    ),
    "llamacpp": Provider(
        name="llamacpp",
        base_url="http://localhost:8080/v1",
        default_model="default",
        api_key_env="LLAMA_API_KEY",
        key_required=False,
        websocket=False,
        compact=False,
        encrypted_reasoning=False,
        cache_key=False,
        context_window=32_768,
    ),
}


def resolve_transport(choice: TransportChoice, provider: Provider) -> Literal["http", "websocket"]:
    """``auto`` means WebSocket where the provider has it (fewer bytes, lower latency per
    turn), HTTP elsewhere."""
    if choice == "auto":
        return "websocket" if provider.websocket else "http"
    return choice
