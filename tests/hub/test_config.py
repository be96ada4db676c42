from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import (
    BUNDLED_ORDER,
    ConfigError,
    MissingVariableError,
    expand_vars,
    load_settings,
    parse_override,
)

CODEX_CONFIG = """\
model = "gpt-5-codex"
approval_policy = "on-request"

[mcp_servers.context7]
command = "npx"
args = ["-y", "@upstash/context7-mcp"]
env_vars = ["LANG", { name = "CONTEXT7_KEY", source = "local" }]
startup_timeout_ms = 20000

[mcp_servers.context7.env]
DEBUG = "1"

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
bearer_token_env_var = "FIGMA_OAUTH_TOKEN"
http_headers = { "X-Figma-Region" = "us-east-1" }
env_http_headers = { "X-Tenant" = "FIGMA_TENANT" }
tool_timeout_sec = 120
enabled_tools = ["get_file"]
disabled_tools = ["delete_file"]
required = true
scopes = ["read"]

[mcp_servers.old]
command = "old-server"
enabled = false

[projects."/home/me/repo"]
trust_level = "trusted"
"""

CLAUDE_MCP_JSON = {
    "mcpServers": {
        "local-tool": {
            "type": "stdio",
            "command": "${PYTHON:-python3}",
            "args": ["-m", "local_tool", "--root", "${workspaceFolder}"],
            "env": {"API_KEY": "${LOCAL_TOOL_KEY}"},
        },
        "remote": {
            "type": "http",
            "url": "https://example.com/mcp",
            "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"},
        },
        "legacy": {"type": "sse", "url": "https://example.com/sse"},
        "cursor-style": {"command": "npx", "args": ["-y", "some-server"], "envFile": ".env"},
    }
}


def load(tmp_path: Path, **kwargs: object) -> object:
    return load_settings(tmp_path, user_config=None, entry_points=False, **kwargs)  # type: ignore[arg-type]


def test_defaults_are_the_five_bundled_servers_over_stdio(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, user_config=None, entry_points=False)
    assert [s.name for s in settings.servers] == list(BUNDLED_ORDER)
    for server in settings.servers:
        assert server.kind == "bundled" and server.transport == "stdio"
        assert server.module == f"servers.{server.name}"
        assert server.startup_timeout_sec == 10 and server.tool_timeout_sec == 60
    assert settings.workspace == tmp_path.resolve()


def test_layers_apply_in_rising_precedence(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text(
        '[servers.files]\ntool_timeout_sec = 5\n\n[servers.x]\ncommand = "one"\nargs = ["a"]\n'
        'env = { A = "1" }\n'
    )
    (tmp_path / "toolwire.toml").write_text(
        "[servers.shell]\nenabled = false\n\n[servers.x]\ntool_timeout_sec = 7\n"
        '[servers.plan]\ntransport = "inprocess"\n'
    )
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"x": {"command": "two"}, "y": {"url": "http://h/mcp"}}})
    )
    settings = load_settings(
        tmp_path,
        user_config=user,
        entry_points=False,
        overrides=["servers.y.enabled=false", "hub.max_output_bytes=1000"],
    )
    assert settings.server("files").tool_timeout_sec == 5
    assert settings.server("shell").enabled is False
    assert settings.server("plan").transport == "inprocess"
    x = settings.server("x")
    # .mcp.json says how to reach x: its command replaces the user's command *and* args...
    assert (x.command, x.args) == ("two", ())
    # ...while keys about everything else still come from every layer
    assert x.tool_timeout_sec == 7 and x.env == {"A": "1"}
    assert x.sources == (str(user), str(tmp_path / "toolwire.toml"), str(tmp_path / ".mcp.json"))
    assert settings.server("y").enabled is False
    assert settings.server("y").transport == "http"
    assert settings.max_output_bytes == 1000
    # bundled first in their order, then the others by name
    assert [s.name for s in settings.servers][-2:] == ["x", "y"]


def test_a_codex_config_works_unchanged(tmp_path: Path) -> None:
    (tmp_path / "toolwire.toml").write_text(CODEX_CONFIG)
    settings = load_settings(tmp_path, user_config=None, entry_points=False, bundled=())
    context7 = settings.server("context7")
    assert context7.command == "npx" and context7.args == ("-y", "@upstash/context7-mcp")
    assert context7.env == {"DEBUG": "1"}
    assert context7.env_vars == ("LANG", "CONTEXT7_KEY")
    assert context7.startup_timeout_sec == 20
    figma = settings.server("figma")
    assert figma.transport == "http" and figma.url == "https://mcp.figma.com/mcp"
    assert figma.bearer_token_env_var == "FIGMA_OAUTH_TOKEN"
    assert figma.http_headers == {"X-Figma-Region": "us-east-1"}
    assert figma.env_http_headers == {"X-Tenant": "FIGMA_TENANT"}
    assert figma.tool_timeout_sec == 120 and figma.required
    assert figma.allows("get_file") and not figma.allows("delete_file")
    assert not figma.allows("other")
    assert settings.server("old").enabled is False
    assert any("mcp_servers.figma.scopes" in w for w in settings.warnings)


def test_an_mcp_json_as_claude_code_and_cursor_write_it(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text(json.dumps(CLAUDE_MCP_JSON, indent=2))
    settings = load_settings(tmp_path, user_config=None, entry_points=False, bundled=())
    local = settings.server("local-tool")
    assert local.transport == "stdio" and local.expand_env
    assert local.command == "${PYTHON:-python3}"  # expanded when the server starts
    remote = settings.server("remote")
    assert remote.transport == "http" and remote.http_headers["Authorization"].endswith("}")
    assert settings.server("legacy").transport == "sse"
    assert settings.server("cursor-style").command == "npx"
    assert any("cursor-style.envFile" in w for w in settings.warnings)


def test_variable_expansion() -> None:
    env = {"A": "1", "EMPTY": ""}
    ws = Path("/work/project")
    assert expand_vars("${A}-${env:A}-${B:-dflt}-${EMPTY:-x}-${EMPTY}", env, ws) == "1-1-dflt-x-"
    assert expand_vars("${workspaceFolder}/${workspaceFolderBasename}", env, ws) == (
        "/work/project/project"
    )
    with pytest.raises(MissingVariableError, match="NOPE"):
        expand_vars("${NOPE}", env, ws)


def test_unknown_keys_in_our_tables_are_errors_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "toolwire.toml"
    path.write_text('[servers.x]\ncommand = "a"\ncomand = "typo"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, user_config=None, entry_points=False)
    assert str(info.value) == f"{path}: servers.x.comand: unknown key (a typo?)"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[servers.x]\ncommand = "a"\nargs = "b"', "servers.x.args: expected a list of strings"),
        (
            '[servers.x]\ncommand = "a"\nenabled = "yes"',
            "servers.x.enabled: expected true or false",
        ),
        ('[servers.x]\ncommand = "a"\ntool_timeout_sec = 0', "greater than 0"),
        ('[servers.x]\ncommand = "a"\nenv = { A = 1 }', "servers.x.env.A: expected a string"),
        (
            '[servers.x]\ncommand = "a"\ntransport = "pigeon"',
            "servers.x.transport: expected one of",
        ),
        ("servers = 3", "servers: expected a table of servers"),
        ("[servers]\nx = 3", "servers.x: expected a table"),
        ("[servers.x]\nenabled = true", "servers.x: no command or url"),
        ('[servers.x]\ncommand = "a"\ntransport = "inprocess"', "'inprocess' needs a bundled"),
        ('[servers.x]\ncommand = "a"\ntransport = "http"', "'http' needs a url"),
        (
            '[servers.files]\nargs = ["-v"]\ntransport = "inprocess"',
            "servers.files.args: a server running in-process takes no command-line arguments",
        ),
        ('[servers.x]\ncommand = "a"\nurl = "http://h"', "either command or url"),
        ("[hub]\nmax_output_bytes = -1", "hub.max_output_bytes"),
        ("[servers.x\n", "not valid TOML"),
    ],
)
def test_wrong_values_say_file_key_and_expectation(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "toolwire.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, user_config=None, entry_points=False)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_mcp_json_errors_use_the_keys_as_written(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": {"s": {"command": "a", "headers": ["x"]}}}))
    with pytest.raises(ConfigError, match=r"mcpServers\.s\.headers: expected a table"):
        load_settings(tmp_path, user_config=None, entry_points=False)
    path.write_text(json.dumps({"mcpServers": {"s": {"type": "carrier-pigeon", "url": "u"}}}))
    with pytest.raises(ConfigError, match=r"mcpServers\.s\.type: expected one of"):
        load_settings(tmp_path, user_config=None, entry_points=False)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_settings(tmp_path, user_config=None, entry_points=False)


def test_disabling_a_server_nobody_defines_is_harmless(tmp_path: Path) -> None:
    (tmp_path / "toolwire.toml").write_text("[servers.gone]\nenabled = false\n")
    settings = load_settings(tmp_path, user_config=None, entry_points=False)
    assert "gone" not in [s.name for s in settings.servers]


def test_relative_cwd_is_taken_from_the_file_that_says_it(tmp_path: Path) -> None:
    (tmp_path / "toolwire.toml").write_text('[servers.x]\ncommand = "a"\ncwd = "sub"\n')
    settings = load_settings(tmp_path, user_config=None, entry_points=False)
    assert settings.server("x").cwd == (tmp_path / "sub").resolve()


def test_entry_points_are_discovered(tmp_path: Path) -> None:
    dist = tmp_path / "site" / "weather_tools-1.2.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: weather-tools\nVersion: 1.2.0\n")
    (dist / "entry_points.txt").write_text(
        "[toolwire.servers]\nweather = weather_tools:create_server\n"
    )
    (tmp_path / "toolwire.toml").write_text("[servers.weather]\ntool_timeout_sec = 9\n")
    settings = load_settings(
        tmp_path, user_config=None, entry_point_path=[str(tmp_path / "site")], bundled=()
    )
    weather = settings.server("weather")
    assert weather.kind == "entry_point" and weather.transport == "stdio"
    assert weather.entry_point == "weather_tools:create_server"
    assert weather.distribution == "weather-tools 1.2.0"
    assert weather.tool_timeout_sec == 9  # a config file can still tune it


def test_overrides_parse_toml_values_or_take_strings() -> None:
    assert parse_override("servers.a.enabled=false") == (["servers", "a", "enabled"], False)
    assert parse_override("servers.a.args=['x', 'y']") == (["servers", "a", "args"], ["x", "y"])
    assert parse_override("servers.a.command=uvx") == (["servers", "a", "command"], "uvx")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("servers.a.enabled")


def test_override_keys_must_name_a_known_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must start with servers"):
        load_settings(tmp_path, user_config=None, entry_points=False, overrides=["model=x"])
    with pytest.raises(ConfigError, match=r"command line: servers\.files\.enabled"):
        load_settings(
            tmp_path, user_config=None, entry_points=False, overrides=["servers.files.enabled=3"]
        )
