"""The environment a command sees: the server's own, minus secrets, plus a few fixed settings.

An agent's shell inherits whatever the user launched the agent with, which routinely includes API
keys. A command the model writes could print or send them, so any variable whose *name* contains
KEY, SECRET or TOKEN is dropped unless the user explicitly keeps or sets it. The output is also
made friendly to a reader that is not a terminal: ``TERM=dumb`` (no colours, no cursor movement)
and ``cat`` as pager, so ``git log`` never waits for a keypress.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

EnvInherit = Literal["all", "core", "none"]

DEFAULT_EXCLUDES: tuple[str, ...] = ("*KEY*", "*SECRET*", "*TOKEN*")
"""Glob patterns (matched case-insensitively against names) dropped unless kept explicitly."""

CORE_VARIABLES: frozenset[str] = frozenset(
    {
        "HOME",
        "LOGNAME",
        "PATH",
        "SHELL",
        "USER",
        "USERNAME",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "TMPDIR",
        "TEMP",
        "TMP",
        "TZ",
    }
)
"""What ``--env-inherit core`` keeps: enough to find programs, the home directory and a locale."""

SHELL_OWNED: frozenset[str] = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
"""Variables a shell sets for itself; copying them from a captured login shell would lie."""


@dataclass(frozen=True, slots=True)
class EnvPolicy:
    """How to build a command's environment from the server's (see the module docstring)."""

    inherit: EnvInherit = "all"
    exclude: tuple[str, ...] = ()
    """Extra glob patterns to drop, on top of :data:`DEFAULT_EXCLUDES`."""
    keep: tuple[str, ...] = ()
    """Glob patterns exempt from every exclude (e.g. ``GITHUB_TOKEN`` for ``gh``)."""
    set: Mapping[str, str] = field(default_factory=dict)
    """Variables set last; they win over everything, including the fixed ones."""

    def excluded(self, name: str) -> bool:
        upper = name.upper()
        if _matches(upper, self.keep):
            return False
        return _matches(upper, DEFAULT_EXCLUDES) or _matches(upper, self.exclude)


def _matches(upper_name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(upper_name, p.upper()) for p in patterns)


def inherited_environment(
    policy: EnvPolicy, source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The part of ``source`` (default: this process's environment) a command may inherit."""
    env = os.environ if source is None else source
    if policy.inherit == "none":
        return {}
    return {
        name: value
        for name, value in env.items()
        if (policy.inherit == "all" or name in CORE_VARIABLES) and not policy.excluded(name)
    }


def filter_captured(policy: EnvPolicy, captured: Mapping[str, str]) -> dict[str, str]:
    """Clean an environment captured from a login shell: the profile may export secrets too."""
    return {
        name: value
        for name, value in captured.items()
        if name not in SHELL_OWNED and not policy.excluded(name)
    }


def command_environment(
    base: Mapping[str, str], policy: EnvPolicy, *, tty: bool, sandboxed: bool
) -> dict[str, str]:
    """``base`` plus the fixed settings for one command, then the policy's explicit values."""
    env = dict(base)
    env["TERM"] = "xterm-256color" if tty else "dumb"
    env["PAGER"] = "cat"
    env["GIT_PAGER"] = "cat"
    if sandboxed:
        env["TMPDIR"] = "/tmp"  # the sandbox's private /tmp; a host TMPDIR would be read-only
    env.update(policy.set)
    return env


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` from the command line (``--env-set``)."""
    name, sep, value = text.partition("=")
    if not sep or not name or "\x00" in text:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return name, value
