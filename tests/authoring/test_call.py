"""``toolwire call`` against every bundled server (started as configured), a URL, and mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from servers.registry import BUNDLED
from tests.interop.samples import SAMPLES, workspace
from tests.support import http_server

pytestmark = pytest.mark.anyio


def toolwire(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def isolated(root: Path) -> list[str]:
    return ["-C", str(root)]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_call_each_bundled_server(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, scratch = workspace(tmp_path)
    sample = SAMPLES[name]
    options = [o.replace("{tmp}", str(scratch)) for o in sample.options]
    overrides = ["-c", f"servers.{name}.args={json.dumps(options)}"] if options else []
    code, out, err = toolwire(
        capsys, "call", name, sample.tool, "--args", json.dumps(sample.arguments),
        *isolated(root), *overrides,
    )  # fmt: skip
    assert code == 0, err
    assert sample.expect in out


def test_values_follow_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = workspace(tmp_path)
    (root / "123").write_text("one\ntwo\nthree\n", encoding="utf-8")
    # path is a string parameter: "123" stays text; limit is an integer: "2" becomes 2.
    code, out, err = toolwire(
        capsys, "call", "files", "read_file", "path=123", "limit=2", "--json", *isolated(root)
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["structuredContent"]["lines"] == ["one", "two"]


def test_listing_errors_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = workspace(tmp_path)
    code, out, _ = toolwire(capsys, "call", "files", *isolated(root))
    assert code == 0 and "read_file(path, offset?, limit?)" in out
    code, _, err = toolwire(
        capsys, "call", "files", "read_file", "path=/etc/passwd", "-C", str(root)
    )
    assert code == 1 and "outside the workspace" in err
    code, _, err = toolwire(capsys, "call", "files", "reed_file", "-C", str(root))
    assert code == 2 and "read_file" in err
    code, _, err = toolwire(capsys, "call", "nosuch", "x", "-C", str(root))
    assert code == 1 and "no server named 'nosuch'" in err and "files" in err
    code, _, err = toolwire(capsys, "call", "files", "read_file", "oops", "-C", str(root))
    assert code == 2 and "key=value" in err


async def test_call_a_running_server_by_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = workspace(tmp_path)
    async with http_server("servers.files", "--root", str(root), "--token", "t0k") as url:
        args = ["call", url, "read_file", "path=hello.txt", "-H", "Authorization: Bearer t0k"]
        code = await _in_thread(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "hello from toolwire" in out


async def _in_thread(argv: list[str]) -> int:
    import anyio

    return await anyio.to_thread.run_sync(main, argv)
