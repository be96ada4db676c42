"""Tool contracts: what the servers advertise must equal the checked-in ``schemas/tools/*.json``,
and every bundled server has a working console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.snapshot import REFRESH_COMMAND, SNAPSHOT_DIR, current_snapshots, drift, render
from servers.registry import BUNDLED

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def snapshots() -> dict[str, str]:
    return await current_snapshots()


async def test_every_bundled_server_has_a_snapshot(snapshots: dict[str, str]) -> None:
    assert set(snapshots) == set(BUNDLED)
    missing = sorted(n for n in BUNDLED if not (SNAPSHOT_DIR / f"{n}.json").exists())
    assert not missing, f"no snapshot for {', '.join(missing)}; run: {REFRESH_COMMAND}"


@pytest.mark.parametrize("name", sorted(BUNDLED))
async def test_advertised_schemas_match_the_snapshot(snapshots: dict[str, str], name: str) -> None:
    path = SNAPSHOT_DIR / f"{name}.json"
    checked_in = path.read_text(encoding="utf-8") if path.exists() else ""
    shown = path.relative_to(SNAPSHOT_DIR.parent.parent)
    assert snapshots[name] == checked_in, (
        f"the tools of server {name!r} no longer match {shown}; "
        f"if the change is intended, run: {REFRESH_COMMAND}"
    )


async def test_snapshot_content_is_the_wire_contract(snapshots: dict[str, str]) -> None:
    files = {t["name"]: t for t in json.loads(snapshots["files"])}
    assert list(files) == sorted(files)
    read = files["read_file"]
    assert {"name", "description", "inputSchema", "outputSchema", "annotations"} <= set(read)
    assert read["annotations"]["readOnlyHint"] is True


def test_drift_names_the_changed_server(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(render([{"name": "t"}]), encoding="utf-8")
    (tmp_path / "b.json").write_text("stale", encoding="utf-8")
    snapshots = {"a": render([{"name": "t"}]), "b": render([{"name": "u"}]), "c": "[]\n"}
    assert drift(snapshots, tmp_path) == ["b", "c"]


def test_check_command_passes_and_names_the_refresh_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "schemas.snapshot", "--check"],
        cwd=SNAPSHOT_DIR.parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "match the snapshots" in proc.stdout
    assert REFRESH_COMMAND == "python -m schemas.snapshot --write"


@pytest.mark.parametrize("name", ["files", "plan"])
def test_console_script_help(name: str) -> None:
    script = shutil.which(f"toolwire-{name}", path=str(Path(sys.executable).parent))
    assert script is not None, f"toolwire-{name} is not installed; pip install -e ."
    proc = subprocess.run(
        [script, "--help"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: toolwire-{name}")
    for option in ("--root", "--http", "--host", "--port", "--token"):
        assert option in proc.stdout
    if name == "plan":
        assert "--state-file" in proc.stdout
