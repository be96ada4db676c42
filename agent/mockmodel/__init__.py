"""A scripted stand-in for the OpenAI Responses API.

It speaks the protocol as the hosted service does — HTTP+SSE, the WebSocket mode and
``/v1/responses/compact`` on one port — while a script decides what the "model" says, a
latency model decides how fast, faults break it on demand, and every request is recorded.
Tests, the offline demo, benchmarks, and users testing their own tool servers in CI all run
against it (``toolwire mock-model`` on the command line).

Modules, one concern each: :mod:`~agent.mockmodel.scripts` (what to say),
:mod:`~agent.mockmodel.latency` (how fast), :mod:`~agent.mockmodel.faults` (how to break),
:mod:`~agent.mockmodel.records` (what happened), :mod:`~agent.mockmodel.parsing` (reading a
request without re-reading what an earlier one sent), :mod:`~agent.mockmodel.validation` (what
to refuse), :mod:`~agent.mockmodel.jsontext` (JSON out), :mod:`~agent.mockmodel.tokens`,
:mod:`~agent.mockmodel.prompt` and :mod:`~agent.mockmodel.cache` (token and prompt-cache
accounting),
:mod:`~agent.mockmodel.conversation` (context and compaction),
:mod:`~agent.mockmodel.events` (the event sequence), :mod:`~agent.mockmodel.engine`
(decisions), :mod:`~agent.mockmodel.app` (the wire) and :mod:`~agent.mockmodel.server`
(running it).
"""

from agent.mockmodel.engine import MockModel
from agent.mockmodel.errors import ApiError
from agent.mockmodel.faults import Fault
from agent.mockmodel.latency import LatencyModel
from agent.mockmodel.records import Record
from agent.mockmodel.scripts import (
    ErrorSpec,
    FunctionCallSpec,
    MessageSpec,
    ReasoningSpec,
    Rule,
    Script,
    Turn,
)
from agent.mockmodel.server import MockModelServer, load_script

__all__ = [
    "ApiError",
    "ErrorSpec",
    "Fault",
    "FunctionCallSpec",
    "LatencyModel",
    "MessageSpec",
    "MockModel",
    "MockModelServer",
    "ReasoningSpec",
    "Record",
    "Rule",
    "Script",
    "Turn",
    "load_script",
]
