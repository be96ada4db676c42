"""An example tool server built on toolwire: git_log and git_blame."""

from toolwire_git.server import GitOutput, GitSettings, create_server

__all__ = ["GitOutput", "GitSettings", "create_server"]
