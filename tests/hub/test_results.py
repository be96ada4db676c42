from __future__ import annotations

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

from agent.hub.results import ERROR_PREFIX, as_text, output_item, render


def text(t: str) -> TextContent:
    return TextContent(type="text", text=t)


def test_text_blocks_are_joined_into_one_string() -> None:
    result = CallToolResult(content=[text("one"), text("two")])
    assert render(result, max_bytes=1000) == "one\ntwo"


def test_images_become_input_image_parts_in_place() -> None:
    result = CallToolResult(
        content=[
            text("a"),
            ImageContent(type="image", data="QUJD", mime_type="image/png"),
            text("b"),
            text("c"),
        ]
    )
    assert render(result, max_bytes=1000) == [
        {"type": "input_text", "text": "a"},
        {"type": "input_image", "image_url": "data:image/png;base64,QUJD"},
        {"type": "input_text", "text": "b\nc"},
    ]


def test_structured_content_is_used_only_without_text() -> None:
    both = CallToolResult(content=[text("shown")], structured_content={"x": 1})
    assert render(both, max_bytes=1000) == "shown"
    only = CallToolResult(content=[], structured_content={"x": 1, "s": "é"})
    assert render(only, max_bytes=1000) == '{"x":1,"s":"é"}'


def test_errors_are_marked() -> None:
    result = CallToolResult(content=[text("disk full")], is_error=True)
    assert render(result, max_bytes=1000) == f"{ERROR_PREFIX}disk full"
    silent = CallToolResult(content=[], is_error=True)
    assert str(render(silent, max_bytes=1000)).startswith(ERROR_PREFIX)
    with_image = CallToolResult(
        content=[ImageContent(type="image", data="QUJD", mime_type="image/png")], is_error=True
    )
    rendered = render(with_image, max_bytes=1000)
    assert isinstance(rendered, list)
    assert as_text(rendered).startswith(ERROR_PREFIX)


def test_long_output_keeps_head_and_tail_with_a_marker() -> None:
    lines = "".join(f"line {n}\n" for n in range(100_000))
    out = render(CallToolResult(content=[text(lines)]), max_bytes=4000)
    assert isinstance(out, str)
    assert len(out.encode()) < 4000 + 300
    assert out.startswith("line 0\n")
    assert out.rstrip().endswith("line 99999")
    assert "omitted" in out and "max_output_bytes" in out


def test_resources_links_and_audio_are_described() -> None:
    result = CallToolResult(
        content=[
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri="file:///a.txt", text="hello"),
            ),
            EmbeddedResource(
                type="resource",
                resource=BlobResourceContents(
                    uri="file:///a.bin", blob="AAAA", mime_type="application/zip"
                ),
            ),
            ResourceLink(type="resource_link", uri="file:///b.md", name="b.md"),
            AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
        ]
    )
    out = render(result, max_bytes=10_000)
    assert isinstance(out, str)
    assert "[resource file:///a.txt]\nhello" in out
    assert "binary resource file:///a.bin (application/zip" in out
    assert "file:///b.md" in out
    assert "audio (audio/wav" in out


def test_blob_images_are_images() -> None:
    result = CallToolResult(
        content=[
            EmbeddedResource(
                type="resource",
                resource=BlobResourceContents(uri="x:/i", blob="QUJD", mime_type="image/gif"),
            )
        ]
    )
    assert render(result, max_bytes=100) == [
        {"type": "input_image", "image_url": "data:image/gif;base64,QUJD"}
    ]


def test_output_item_shape() -> None:
    assert output_item("call_1", "ok") == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "ok",
    }
