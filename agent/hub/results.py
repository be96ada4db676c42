"""From an MCP ``CallToolResult`` to the ``output`` of a Responses ``function_call_output``.

The model reads this, so it is shaped for the model: text blocks joined into one string (the
common case, and the cheapest to cache); images as ``input_image`` parts with data URLs, in
their place among the text; ``structuredContent`` as compact JSON only when the tool sent no
text (a tool that sends both meant the text for the model). Content the Responses API cannot
carry (audio, binary resources) is named in a short note rather than dropped silently.

A failed call (``isError``, or a failure of the hub itself) starts with :data:`ERROR_PREFIX`:
``function_call_output`` has no error flag, and a fixed first word is what lets the model, the
transcript and a human reader all see at once that the call failed.

Output longer than the hub's limit keeps its head and tail with a marker stating what was cut,
so one chatty server cannot flood the context window.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from schemas.responses import FunctionCallOutput, InputContent, InputImage, InputText
from servers.common.limits import clip, format_size

ERROR_PREFIX = "ERROR: "
CLIP_HINT = "cut by toolwire to fit max_output_bytes; ask for less, e.g. a narrower range"

Output = str | list[InputContent]


def output_item(call_id: str, output: Output) -> FunctionCallOutput:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def error_text(message: str) -> str:
    return f"{ERROR_PREFIX}{message}"


def render(result: CallToolResult, *, max_bytes: int) -> Output:
    """The model-facing output of one tool result."""
    parts: list[InputContent] = []
    texts: list[str] = []
    has_image = False

    def flush() -> None:
        if texts:
            parts.append(InputText(type="input_text", text="\n".join(texts)))
            texts.clear()

    for block in result.content:
        if isinstance(block, TextContent):
            texts.append(block.text)
        elif isinstance(block, ImageContent):
            flush()
            parts.append(_image(block.mime_type, block.data))
            has_image = True
        elif isinstance(block, EmbeddedResource):
            resource = block.resource
            if isinstance(resource, TextResourceContents):
                texts.append(f"[resource {resource.uri}]\n{resource.text}")
            elif isinstance(resource, BlobResourceContents):
                mime = resource.mime_type or "application/octet-stream"
                if mime.startswith("image/"):
                    flush()
                    parts.append(_image(mime, resource.blob))
                    has_image = True
                else:
                    size = format_size(len(resource.blob) * 3 // 4)
                    texts.append(f"[binary resource {resource.uri} ({mime}, {size}) not shown]")
        elif isinstance(block, ResourceLink):
            texts.append(_link(block))
        elif isinstance(block, AudioContent):
            size = format_size(len(block.data) * 3 // 4)
            texts.append(f"[audio ({block.mime_type}, {size}) not shown: no audio in tool output]")
    if not parts and not texts and result.structured_content is not None:
        texts.append(_compact(result.structured_content))

    if not has_image:
        text = "\n".join(texts)
        if result.is_error:
            text = error_text(text or "the tool reported an error without a message")
        return _clip(text, max_bytes)

    flush()
    budget = max(max_bytes // max(1, sum(p["type"] == "input_text" for p in parts)), 1024)
    for part in parts:
        if part["type"] == "input_text":
            part["text"] = _clip(part["text"], budget)
    if result.is_error:
        if parts[0]["type"] == "input_text":
            parts[0]["text"] = error_text(parts[0]["text"])
        else:
            parts.insert(0, InputText(type="input_text", text=error_text("the tool failed")))
    return parts


def as_text(output: Output) -> str:
    """The text of an output, images left out (for logs, tests and terminal display)."""
    if isinstance(output, str):
        return output
    return "\n".join(p["text"] for p in output if p["type"] == "input_text")


def _clip(text: str, max_bytes: int) -> str:
    if len(text) * 4 <= max_bytes:  # cheap exit: even all 4-byte characters would fit
        return text
    return clip(text, max_bytes=max_bytes, hint=CLIP_HINT).text


def _image(mime: str, data: str) -> InputImage:
    return InputImage(type="input_image", image_url=f"data:{mime};base64,{data}")


def _link(link: ResourceLink) -> str:
    details = [d for d in (link.title or link.name, link.mime_type) if d]
    if link.description:
        details.append(link.description)
    return f"[resource link {link.uri}: {'; '.join(details)}]" if details else f"[{link.uri}]"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
