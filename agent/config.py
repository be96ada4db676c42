"""Settings: which tool servers the agent runs, and how.

One :class:`Settings` is built from layers, later layers overriding earlier ones key by key:

1. built-in defaults: the five bundled servers (files, search, patch, shell, plan);
2. the user's ``config.toml`` in the platform config directory (``~/.config/toolwire`` on
   Linux);
3. ``toolwire.toml`` in the workspace;
4. the workspace's ``.mcp.json`` (``{"mcpServers": {...}}``, as Claude Code and Cursor write it);
5. installed packages' entry points in the group ``toolwire.servers``;
6. command-line overrides (``-c servers.NAME.KEY=VALUE``, the value in TOML syntax).

In the TOML files a server is a ``[servers.NAME]`` table. Its keys are Codex's
``[mcp_servers.NAME]`` keys, and ``[mcp_servers.NAME]`` tables are read too, so a Codex config
works unchanged: keys we do not use there are reported as warnings, not errors (Codex has more
than we need); in our own ``[servers.NAME]`` an unknown key is an error, because it is far more
likely a typo. Every error names the file, the key and what was expected.

Merging is per key, with one exception: a layer that says *how to reach* a server (``command``,
``url`` or an entry point) replaces everything earlier layers said about reaching it (command,
args, url, transport), so a project can point ``files`` at its own build without inheriting a
stale ``url``. Everything else (``enabled``, timeouts, tool filters, ``env``) overrides one key
at a time, which is how ``[servers.shell] enabled = false`` turns off a bundled server.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

APP = "toolwire"
BUNDLED_ORDER: tuple[str, ...] = ("files", "search", "patch", "shell", "plan")
"""The bundled servers, in the order their tools appear to the model."""

ENTRY_POINT_GROUP = "toolwire.servers"
PROJECT_CONFIG = "toolwire.toml"
PROJECT_MCP_JSON = ".mcp.json"
DEFAULT_STARTUP_TIMEOUT = 10.0
"""Seconds a server may take to start and list its tools (Codex's default)."""
DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds one tool call may take (Codex's default)."""
DEFAULT_MAX_OUTPUT_BYTES = 48 * 1024
"""Longest tool output handed to the model (about 12k tokens); longer output keeps head+tail."""

Transport = Literal["stdio", "http", "sse", "inprocess"]
Kind = Literal["bundled", "command", "url", "entry_point"]
_REACH_KEYS = ("command", "args", "url", "transport", "entry_point", "bundled")


class ConfigError(ValueError):
    """A configuration file (or override) is wrong; the message says where and how."""


# --------------------------------------------------------------------------------------------
# What one layer may say about a server, and about the hub
# --------------------------------------------------------------------------------------------


class ServerTable(BaseModel):
    """The keys of one ``[servers.NAME]`` table (all optional; layers are merged)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    env_vars: list[str] | None = None
    cwd: str | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    transport: Transport | None = None
    enabled: bool | None = None
    required: bool | None = None
    startup_timeout_sec: float | None = Field(default=None, gt=0)
    tool_timeout_sec: float | None = Field(default=None, gt=0)
    enabled_tools: list[str] | None = None
    disabled_tools: list[str] | None = None


SERVER_KEYS = frozenset(ServerTable.model_fields)


class HubTable(BaseModel):
    """``[hub]``: how the hub treats every server."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_output_bytes: int | None = Field(default=None, gt=0)
    schema_cache: bool | None = None


class ServerConfig(BaseModel):
    """One server after every layer was applied: everything the hub needs to run it."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    transport: Transport
    module: str | None = None
    """Bundled servers: the module run as ``python -m MODULE``."""
    entry_point: str | None = None
    """Entry-point servers: ``module:attribute`` of the server factory."""
    distribution: str | None = None
    """Entry-point servers: ``name version`` of the package that provides it."""
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    env_vars: tuple[str, ...] = ()
    cwd: Path | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    http_headers: dict[str, str] = Field(default_factory=dict)
    env_http_headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    required: bool = False
    startup_timeout_sec: float = DEFAULT_STARTUP_TIMEOUT
    tool_timeout_sec: float = DEFAULT_TOOL_TIMEOUT
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()
    expand_env: bool = False
    """Expand ``${VAR}`` in command, args, env, url and headers at start (``.mcp.json``)."""
    sources: tuple[str, ...] = ()
    """Where this server was configured, lowest precedence first."""

    @property
    def bundled(self) -> bool:
        return self.kind == "bundled"

    def allows(self, tool: str) -> bool:
        """Whether ``enabled_tools``/``disabled_tools`` let ``tool`` through (allow-list first)."""
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return tool not in self.disabled_tools


class Settings(BaseModel):
    """Everything the hub needs: the servers (in tool order), limits, and where they came from."""

    model_config = ConfigDict(frozen=True)

    workspace: Path
    servers: tuple[ServerConfig, ...]
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    schema_cache: bool = True
    cache_dir: Path
    files: tuple[str, ...] = ()
    """Configuration files that were read."""
    warnings: tuple[str, ...] = ()
    """Things worth telling the user that did not stop loading (unused Codex keys, ...)."""

    def server(self, name: str) -> ServerConfig:
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)

    @property
    def enabled_servers(self) -> tuple[ServerConfig, ...]:
        return tuple(s for s in self.servers if s.enabled)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """What one layer says about one server."""

    source: str
    table: ServerTable
    base_dir: Path | None = None
    kind: Kind | None = None
    module: str | None = None
    entry_point: str | None = None
    distribution: str | None = None
    expand_env: bool = False

    def reaches(self) -> bool:
        return self.kind is not None or bool({"command", "url"} & self.table.model_fields_set)


@dataclass
class _Layers:
    servers: dict[str, list[_Entry]] = field(default_factory=dict)
    hub: list[tuple[str, HubTable]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, entry: _Entry) -> None:
        self.servers.setdefault(name, []).append(entry)


def _describe_error(source: str, prefix: str, exc: ValidationError) -> ConfigError:
    lines = []
    for error in exc.errors():
        key = ".".join([prefix, *(str(p) for p in error["loc"])]).strip(".")
        lines.append(f"{source}: {key}: {_expected(error)}")
    return ConfigError("\n".join(lines))


_EXPECTED = {
    "string_type": "a string",
    "list_type": "a list of strings",
    "dict_type": "a table of strings",
    "bool_type": "true or false",
    "float_type": "a number",
    "int_type": "an integer",
    "greater_than": "a number greater than 0",
    "missing": "a value",
}


def _expected(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown key (a typo?)"
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"expected one of {allowed}, got {value!r}"
    what = _EXPECTED.get(kind, error.get("msg", "a valid value").lower())
    return f"expected {what}, got {value!r}"


def _server_table(
    source: str, prefix: str, raw: Any, *, lenient: bool, layers: _Layers
) -> ServerTable:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {prefix}: expected a table, got {raw!r}")
    data = dict(raw)
    if "startup_timeout_ms" in data and "startup_timeout_sec" not in data:
        millis = data.pop("startup_timeout_ms")
        if isinstance(millis, int | float) and not isinstance(millis, bool):
            data["startup_timeout_sec"] = millis / 1000
        else:
            raise ConfigError(f"{source}: {prefix}.startup_timeout_ms: expected a number")
    if "env_vars" in data and isinstance(data["env_vars"], list):
        # Codex allows {name = "VAR", source = ...} entries besides plain names.
        data["env_vars"] = [
            v.get("name") if isinstance(v, Mapping) else v for v in data["env_vars"]
        ]
    if lenient:
        for key in sorted(set(data) - SERVER_KEYS):
            layers.warnings.append(f"{source}: {prefix}.{key}: not used by toolwire (ignored)")
            del data[key]
    try:
        return ServerTable.model_validate(data)
    except ValidationError as exc:
        raise _describe_error(source, prefix, exc) from None


def _read_config_text(path: Path) -> str | None:
    """The file's text, or None when there is no such file (an absent layer is no error)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _read_toml(path: Path, layers: _Layers, *, source: str | None = None) -> None:
    text = _read_config_text(path)
    if text is None:
        return
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    layers.files.append(str(path))
    _apply_tables(data, source or str(path), path.parent, layers)


def _apply_tables(data: Mapping[str, Any], source: str, base_dir: Path, layers: _Layers) -> None:
    # Other top-level keys (model settings, Codex's own options, ...) belong to other readers.
    for table in ("mcp_servers", "servers"):
        if table not in data:
            continue
        servers = data[table]
        if not isinstance(servers, Mapping):
            raise ConfigError(f"{source}: {table}: expected a table of servers, got {servers!r}")
        for name, raw in servers.items():
            prefix = f"{table}.{name}"
            parsed = _server_table(
                source, prefix, raw, lenient=table == "mcp_servers", layers=layers
            )
            layers.add(name, _Entry(source, parsed, base_dir=base_dir))
    if "hub" in data:
        raw_hub = data["hub"]
        if not isinstance(raw_hub, Mapping):
            raise ConfigError(f"{source}: hub: expected a table, got {raw_hub!r}")
        try:
            layers.hub.append((source, HubTable.model_validate(dict(raw_hub))))
        except ValidationError as exc:
            raise _describe_error(source, "hub", exc) from None


_MCP_JSON_KEYS = {
    "command": "command",
    "args": "args",
    "env": "env",
    "url": "url",
    "headers": "http_headers",
    "cwd": "cwd",
}
_MCP_JSON_TYPES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamableHttp": "http",
    "sse": "sse",
}


def _read_mcp_json(path: Path, layers: _Layers) -> None:
    text = _read_config_text(path)
    if text is None:
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    layers.files.append(str(path))
    source = str(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected an object with an 'mcpServers' key")
    servers = data.get("mcpServers", {})
    if not isinstance(servers, Mapping):
        raise ConfigError(f"{source}: mcpServers: expected an object of servers, got {servers!r}")
    for name, raw in servers.items():
        prefix = f"mcpServers.{name}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: {prefix}: expected an object, got {raw!r}")
        table: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _MCP_JSON_KEYS:
                table[_MCP_JSON_KEYS[key]] = value
            elif key == "type":
                if value not in _MCP_JSON_TYPES:
                    raise ConfigError(
                        f"{source}: {prefix}.type: expected one of "
                        f"{', '.join(sorted(_MCP_JSON_TYPES))}, got {value!r}"
                    )
                table["transport"] = _MCP_JSON_TYPES[value]
            elif key in ("disabled",) and isinstance(value, bool):
                table["enabled"] = not value
            else:
                layers.warnings.append(f"{source}: {prefix}.{key}: not used by toolwire (ignored)")
        try:
            parsed = ServerTable.model_validate(table)
        except ValidationError as exc:
            renamed = {v: k for k, v in _MCP_JSON_KEYS.items()} | {"transport": "type"}
            lines = []
            for error in exc.errors():  # report each key as written in the file
                loc = [str(p) for p in error["loc"]]
                if loc and loc[0] in renamed:
                    loc[0] = renamed[loc[0]]
                lines.append(f"{source}: {'.'.join([prefix, *loc])}: {_expected(error)}")
            raise ConfigError("\n".join(lines)) from None
        layers.add(name, _Entry(source, parsed, base_dir=path.parent, expand_env=True))


def _read_entry_points(layers: _Layers, path: Sequence[str] | None) -> None:
    if path is None:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    else:
        found = metadata.EntryPoints(
            ep
            for dist in metadata.distributions(path=list(path))
            for ep in dist.entry_points
            if ep.group == ENTRY_POINT_GROUP
        )
    for ep in sorted(found, key=lambda e: e.name):
        dist = ep.dist
        provider = f"{dist.name} {dist.version}" if dist is not None else "unknown package"
        source = f"entry point {ep.name} = {ep.value} ({provider})"
        layers.add(
            ep.name,
            _Entry(
                source,
                ServerTable(),
                kind="entry_point",
                entry_point=ep.value,
                distribution=provider,
            ),
        )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``servers.files.enabled=false`` -> (["servers", "files", "enabled"], False).

    The value is TOML (``30``, ``true``, ``["a", "b"]``, ``"text"``); anything that is not valid
    TOML is taken as a plain string, so ``-c servers.x.command=uvx`` works without quotes.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"override {text!r}: expected KEY=VALUE, e.g. servers.shell.enabled=false"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return [p.strip() for p in key.strip().split(".")], value


def _apply_overrides(overrides: Sequence[str], layers: _Layers, workspace: Path) -> None:
    tree: dict[str, Any] = {}
    for text in overrides:
        path, value = parse_override(text)
        if path[0] not in ("servers", "mcp_servers", "hub") or len(path) < 2:
            raise ConfigError(
                f"override {text!r}: key must start with servers.NAME., mcp_servers.NAME. or hub."
            )
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part} is already set to a value")
            node = child
        node[path[-1]] = value
    if tree:
        _apply_tables(tree, "command line", workspace, layers)


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


def _bundled_entry(name: str) -> _Entry:
    return _Entry("built-in", ServerTable(), kind="bundled", module=f"servers.{name}")


def _merge(name: str, entries: list[_Entry]) -> ServerConfig | None:
    values: dict[str, Any] = {}
    reach: _Entry | None = None
    for entry in entries:
        if entry.reaches():
            reach = entry
            for key in _REACH_KEYS:
                values.pop(key, None)
        for key in entry.table.model_fields_set:
            value = getattr(entry.table, key)
            if key == "cwd" and value is not None and entry.base_dir is not None:
                value = str((entry.base_dir / Path(value).expanduser()).resolve())
            values[key] = value
    sources = tuple(e.source for e in entries)
    if reach is None:
        if values.get("enabled") is False:
            return None  # disabling a server nobody defines (any more) is harmless
        raise ConfigError(
            f"{sources[-1]}: servers.{name}: no command or url, and '{name}' is not a bundled "
            "or installed server"
        )
    kind: Kind = reach.kind or ("command" if "command" in values else "url")
    transport = values.get("transport") or _default_transport(kind)
    where = f"{sources[-1]}: servers.{name}"
    if transport == "inprocess" and kind not in ("bundled", "entry_point"):
        raise ConfigError(
            f"{where}.transport: 'inprocess' needs a bundled or entry-point server; "
            f"'{name}' is reached by {kind}"
        )
    if transport == "inprocess" and values.get("args"):
        raise ConfigError(
            f"{where}.args: a server running in-process takes no command-line arguments; "
            'drop them or use transport = "stdio"'
        )
    if transport in ("http", "sse") and not values.get("url"):
        raise ConfigError(f"{where}.transport: '{transport}' needs a url")
    if transport == "stdio" and kind == "url":
        raise ConfigError(f"{where}.transport: 'stdio' needs a command, but only a url is set")
    if values.get("command") is not None and values.get("url") is not None:
        raise ConfigError(f"{where}: set either command or url, not both")
    fields: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    for key in ("args", "env_vars", "enabled_tools", "disabled_tools"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return ServerConfig(
        name=name,
        kind=kind,
        module=reach.module,
        entry_point=reach.entry_point,
        distribution=reach.distribution,
        expand_env=reach.expand_env,
        sources=sources,
        **{**fields, "transport": transport},
    )


def _default_transport(kind: Kind) -> Transport:
    return "http" if kind == "url" else "stdio"


def user_config_path() -> Path:
    return platformdirs.user_config_path(APP) / "config.toml"


def default_cache_dir() -> Path:
    return platformdirs.user_cache_path(APP)


_DEFAULT: Any = object()


def load_settings(
    workspace: str | os.PathLike[str] | None = None,
    *,
    user_config: Path | None = _DEFAULT,
    overrides: Sequence[str] = (),
    bundled: Iterable[str] = BUNDLED_ORDER,
    entry_points: bool = True,
    entry_point_path: Sequence[str] | None = None,
    cache_dir: Path | None = None,
) -> Settings:
    """Read every layer and merge them into one :class:`Settings`.

    ``user_config=None`` skips the user's file (tests, ``--isolated`` runs);
    ``entry_point_path`` looks for entry points in those directories instead of ``sys.path``.
    """
    root = Path(workspace or Path.cwd()).expanduser().resolve()
    layers = _Layers()
    order = list(bundled)
    for name in order:
        layers.add(name, _bundled_entry(name))
    if user_config is _DEFAULT:
        user_config = user_config_path()
    if user_config is not None:
        _read_toml(user_config, layers)
    _read_toml(root / PROJECT_CONFIG, layers)
    _read_mcp_json(root / PROJECT_MCP_JSON, layers)
    if entry_points:
        _read_entry_points(layers, entry_point_path)
    _apply_overrides(overrides, layers, root)

    servers: list[ServerConfig] = []
    for name in [*order, *sorted(n for n in layers.servers if n not in order)]:
        merged = _merge(name, layers.servers[name])
        if merged is not None:
            servers.append(merged)

    hub = HubTable()
    for _, table in layers.hub:
        hub = hub.model_copy(update={k: getattr(table, k) for k in table.model_fields_set})
    return Settings(
        workspace=root,
        servers=tuple(servers),
        max_output_bytes=hub.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES,
        schema_cache=True if hub.schema_cache is None else hub.schema_cache,
        cache_dir=cache_dir or default_cache_dir(),
        files=tuple(layers.files),
        warnings=tuple(layers.warnings),
    )


# --------------------------------------------------------------------------------------------
# ${VAR} expansion (.mcp.json)
# --------------------------------------------------------------------------------------------


class MissingVariableError(ConfigError):
    """``${NAME}`` names an environment variable that is not set and has no default."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set (and no ${{{name}:-default}})")
        self.name = name


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def expand_vars(text: str, environ: Mapping[str, str], workspace: Path) -> str:
    """Expand ``${VAR}``, ``${VAR:-default}`` (Claude Code), ``${env:VAR}``, ``${userHome}``,
    ``${workspaceFolder}`` and ``${workspaceFolderBasename}`` (Cursor) in ``text``."""

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == "userHome":
            return str(Path.home())
        if body == "workspaceFolder":
            return str(workspace)
        if body == "workspaceFolderBasename":
            return workspace.name
        name, sep, default = body.partition(":-")
        name = name.removeprefix("env:")
        value = environ.get(name)
        if value is not None and (value or not sep):
            return value
        if sep:
            return default
        raise MissingVariableError(name)

    return _VARIABLE.sub(one, text)
