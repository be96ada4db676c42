"""The agent hub: discover tool servers, merge their schemas, route every call.

See :mod:`agent.hub.core` for the API the agent loop uses (:class:`Hub`).
"""

from agent.hub.connection import CallError, ServerStatus
from agent.hub.core import CallOutcome, Hub, HubStartError
from agent.hub.merge import ToolEntry
from agent.hub.results import ERROR_PREFIX, as_text

__all__ = [
    "ERROR_PREFIX",
    "CallError",
    "CallOutcome",
    "Hub",
    "HubStartError",
    "ServerStatus",
    "ToolEntry",
    "as_text",
]
