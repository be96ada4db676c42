"""A server from an installed package's ``toolwire.servers`` entry point.

The package is a wheel built here by hand (a wheel is a zip file: no build backend, no network)
and installed by pip into a throwaway virtualenv that sees this project's packages through a
``.pth`` file, so the test venv itself is never modified. The hub then runs inside that
virtualenv, where discovery goes through ``importlib.metadata`` exactly as for a user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

PLUGIN = "toolwire_demo_plugin"
VERSION = "1.4.2"

PLUGIN_SOURCE = '''\
"""A toolwire plugin: one tool server, offered through an entry point."""

from mcp.server.mcpserver import MCPServer


def create_server() -> MCPServer:
    server = MCPServer("demo")

    @server.tool()
    async def greet(name: str) -> str:
        """Greet someone."""
        return f"hello, {name}"

    return server
'''

HUB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import anyio
    from agent.config import load_settings
    from agent.hub import Hub, as_text

    async def main() -> None:
        settings = load_settings(
            ".", user_config=None, bundled=(), cache_dir=sys.argv[1], overrides=sys.argv[2:]
        )
        async with Hub.start(settings, wait=True) as hub:
            out = await hub.call("demo__greet", '{"name": "plugin"}', "c")
            (status,) = hub.servers
            print(json.dumps({
                "server": [status.name, status.status, status.kind, status.transport,
                           status.error, list(status.sources)],
                "tools": [t["name"] for t in hub.tools],
                "output": as_text(out["output"]),
            }))

    anyio.run(main)
    """
)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(directory: Path) -> Path:
    info = f"{PLUGIN}-{VERSION}.dist-info"
    files = {
        f"{PLUGIN}/__init__.py": PLUGIN_SOURCE.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PLUGIN.replace('_', '-')}\nVersion: {VERSION}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: toolwire-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": (
            f"[toolwire.servers]\ndemo = {PLUGIN}:create_server\n"
        ).encode(),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = directory / f"{PLUGIN}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the plugin installed by pip; returns its python."""
    root = tmp_path_factory.mktemp("plugin")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # See this project (editable) and its dependencies without installing them again.
    ours = sysconfig.get_paths()["purelib"]
    (site / "toolwire_test_parent.pth").write_text(f"{ours}\n{REPO}\n")
    wheel = build_wheel(root)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            str(wheel),
        ],
        check=True,
    )
    return python


@pytest.mark.parametrize("transport", ["stdio", "inprocess"])
def test_an_installed_entry_point_server(plugin_venv: Path, tmp_path: Path, transport: str) -> None:
    overrides = [f"servers.demo.transport={transport}"] if transport == "inprocess" else []
    result = subprocess.run(
        [str(plugin_venv), "-c", HUB_SCRIPT, str(tmp_path / "cache"), *overrides],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    name, status, kind, used, error, sources = report["server"]
    assert (name, status, kind, used, error) == ("demo", "ready", "entry_point", transport, None)
    assert sources[0] == (
        f"entry point demo = {PLUGIN}:create_server (toolwire-demo-plugin {VERSION})"
    )
    assert report["tools"] == ["demo__greet"]
    assert report["output"] == "hello, plugin"
