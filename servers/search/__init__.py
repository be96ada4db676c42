"""The search server: ripgrep-backed ``grep`` and ``find_files`` over MCP."""

from servers.search.server import SearchSettings, create_server

__all__ = ["SearchSettings", "create_server"]
