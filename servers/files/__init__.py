"""The files server: read files, list directories, view images, files as resources."""

from servers.files.server import FilesSettings, create_server

__all__ = ["FilesSettings", "create_server"]
