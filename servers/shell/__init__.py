"""The shell server: run commands and long-lived sessions, bounded and sandboxed."""

from servers.shell.server import ShellSettings, create_server

__all__ = ["ShellSettings", "create_server"]
