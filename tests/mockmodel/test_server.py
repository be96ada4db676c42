"""Running the server: a background thread for synchronous code, the record file, the
command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from agent.cli import main as toolwire
from agent.mockmodel import Fault, MockModelServer

ROOT = Path(__file__).resolve().parents[2]


def test_threaded_server_with_a_sync_client(tmp_path: Path) -> None:
    record_file = tmp_path / "records.jsonl"
    with MockModelServer(["first", "second"], record=record_file) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0)
        assert client.responses.create(model="m", input="hi").output_text == "first"
        srv.inject(Fault(kind="server_error"))  # from this thread
        with pytest.raises(openai.InternalServerError):
            client.responses.create(model="m", input="hi")
        srv.script = ["swapped"]  # scripts can change between requests
        assert client.responses.create(model="m", input="hi").output_text == "swapped"
        assert [r.http_status for r in srv.records] == [200, 500, 200]
        srv.clear_records()
        assert srv.records == []
        client.close()
    lines = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert "body" not in lines[0] and lines[0]["transport"] == "http"
    assert lines[1]["fault"] == "server_error" and lines[1]["http_status"] == 500


def test_record_bodies_when_asked(tmp_path: Path) -> None:
    record_file = tmp_path / "records.jsonl"
    with MockModelServer(record=record_file, record_bodies=True) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0)
        client.responses.create(model="m", input="hello")
        assert srv.records[0].body == {"model": "m", "input": "hello"}
        client.close()
    (line,) = record_file.read_text().splitlines()
    assert json.loads(line)["body"] == {"model": "m", "input": "hello"}


def test_a_busy_port_fails_loudly() -> None:
    with MockModelServer() as first:
        second = MockModelServer(port=first.port)
        with pytest.raises(OSError):
            second.start_in_thread()


def test_cli_serves_a_script_and_stops_cleanly(tmp_path: Path) -> None:
    record_file = tmp_path / "cli.jsonl"
    command = [
        sys.executable,
        "-m",
        "agent.cli",
        "mock-model",
        "--port",
        "0",
        "--script",
        str(ROOT / "examples/scripts/read_and_answer.json"),
        "--record",
        str(record_file),
        "--fault",
        "rate_limit:retry_after=0.01",
    ]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("toolwire mock-model: listening on http://127.0.0.1:")
            url = line.split()[4]
            with openai.OpenAI(base_url=url, api_key="x", max_retries=1) as client:
                response = client.responses.create(model="m", input="What is this?")
            assert [item.type for item in response.output] == ["reasoning", "function_call"]
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=20)
    assert code == 0
    records = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert [r["http_status"] for r in records] == [429, 200]
    assert records[1]["turn"] == "turns[0]"


def test_cli_rejects_a_bad_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nmatch = "("\n')
    assert toolwire(["mock-model", "--script", str(bad)]) == 2
    assert "invalid regular expression" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        toolwire(["--help"])
    assert caught.value.code == 0
    assert "mock-model" in capsys.readouterr().out
