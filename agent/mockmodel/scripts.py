"""Scripts: what the mock model says, turn by turn.

A script is a list of *turns* — each the output items of one response — plus optional
*rules* that react to tool output, and a *final* message for when the turns run out::

    {
      "turns": [
        [{"type": "reasoning", "summary": "Find the file first."},
         {"type": "function_call", "name": "read_file", "arguments": {"path": "README.md"}}],
        ["The README says hello."]
      ],
      "rules": [
        {"match": "No such file", "output": ["The file does not exist."]}
      ],
      "final": "Done."
    }

or the same in TOML (``[[turns]]`` tables with an ``output`` array, ``[[rules]]`` tables).
A bare string is shorthand for a message; a bare list is shorthand for ``{"output": [...]}``.

**Which turn answers a request** is decided from the request itself, never from a server-side
cursor: the mock counts the model turns already in the conversation (each run of consecutive
model-produced items — assistant messages, function calls, reasoning — counts once, and a
``compaction`` item counts the turns it replaced). Turn N answers a conversation that
already has N model turns. So a retried request gets the same turn again, concurrent
conversations never interfere, and the WebSocket (which sends only new items) and HTTP
(which sends everything) behave the same. Before using turn N, the rules are tried, in
order, against the tool outputs that arrived since the last model turn; the first whose
``match`` regex is found (and whose ``tool``, if set, produced that output) answers
instead, taking turn N's place. Past the last turn, the ``final`` message answers.

A turn may also end badly on purpose: ``status = "failed"`` (``response.failed`` with
``error``), ``"incomplete"`` (``response.incomplete`` with ``incomplete_reason``) or
``"error"`` (an ``error`` event in the stream; a 500 without streaming).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from agent.mockmodel.faults import Fault
from agent.mockmodel.latency import LatencyModel


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageSpec(_Spec):
    """An assistant message."""

    type: Literal["message"] = "message"
    text: str
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCallSpec(_Spec):
    """A function call. ``arguments`` given as an object or array is sent as compact JSON;
    given as a string it is sent verbatim (so a script can send malformed JSON on purpose).
    Without ``call_id`` a fresh one is generated per response."""

    type: Literal["function_call"] = "function_call"
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | list[Any] | str = Field(default_factory=dict)
    call_id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False, separators=(",", ":"))


class ReasoningSpec(_Spec):
    """A reasoning item: summary parts streamed as reasoning-summary deltas, an opaque
    ``encrypted_content`` (generated when not given; sent only when the request includes
    ``reasoning.encrypted_content``), and ``tokens`` of hidden reasoning that take time and
    count as reasoning tokens without being streamed."""

    type: Literal["reasoning"] = "reasoning"
    summary: list[str] = Field(default_factory=list)
    encrypted_content: str | None = None
    tokens: int = Field(default=0, ge=0)

    @field_validator("summary", mode="before")
    @classmethod
    def _one_summary(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


ItemSpec = Annotated[MessageSpec | FunctionCallSpec | ReasoningSpec, Field(discriminator="type")]


class ErrorSpec(_Spec):
    code: str = "server_error"
    message: str = "The model failed to produce a response (scripted)."


def _item_shorthand(value: object) -> object:
    return {"type": "message", "text": value} if isinstance(value, str) else value


class Turn(_Spec):
    """The output of one response, and how it ends."""

    output: list[ItemSpec] = Field(default_factory=list)
    status: Literal["completed", "failed", "incomplete", "error"] = "completed"
    error: ErrorSpec = Field(default_factory=ErrorSpec)
    incomplete_reason: str = "max_output_tokens"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = {"output": value}
        if isinstance(value, Mapping) and isinstance(value.get("output"), list):
            value = {**value, "output": [_item_shorthand(v) for v in value["output"]]}
        return value


class Rule(Turn):
    """A turn that answers when a recent tool output matches ``match`` (a Python regex,
    searched anywhere in the text), optionally only output of the tool named ``tool``."""

    match: str
    tool: str | None = None
    _pattern: re.Pattern[str] = PrivateAttr()

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._pattern = re.compile(self.match)

    def matches(self, output: ToolOutput) -> bool:
        if self.tool is not None and output.name != self.tool:
            return False
        return self._pattern.search(output.text) is not None


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool result the model has just received: the tool's name (when its call is in the
    conversation) and the output as text."""

    name: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Selection:
    turn: Turn
    source: str
    """Where the turn came from: ``turns[3]``, ``rules[0]`` or ``final``."""


class Script(_Spec):
    """A whole script. Construct it in Python, or load it with :meth:`load` /
    :meth:`parse`."""

    turns: list[Turn] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    final: str = "Done."
    latency: LatencyModel | None = None
    faults: list[Fault] = Field(default_factory=list)
    _final_turn: Turn = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._final_turn = Turn(output=[MessageSpec(text=self.final)])

    @model_validator(mode="before")
    @classmethod
    def _bare_turns(cls, value: object) -> object:
        return {"turns": value} if isinstance(value, list) else value

    @classmethod
    def parse(cls, data: object) -> Script:
        """From already-decoded JSON or TOML (a mapping, or a bare list of turns)."""
        return cls.model_validate(data)

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """From a ``.json`` or ``.toml`` file (decided by the suffix)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        data: object = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return cls.parse(data)

    def select(self, turn_index: int, recent_outputs: Sequence[ToolOutput]) -> Selection:
        if recent_outputs:
            for index, rule in enumerate(self.rules):
                if any(rule.matches(output) for output in recent_outputs):
                    return Selection(rule, f"rules[{index}]")
        if turn_index < len(self.turns):
            return Selection(self.turns[turn_index], f"turns[{turn_index}]")
        return Selection(self._final_turn, "final")
