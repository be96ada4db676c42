"""Plan validation and rendering: pure functions, no MCP.

The rules are Codex's: each step is a short sentence with a status, and at most one step is
``in_progress`` at a time (the model is doing one thing). Errors name the step by number and
text, because the model must fix exactly that one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.plan import PlanStep

STATUSES = ("pending", "in_progress", "completed")
MAX_STEPS = 50
MAX_STEP_CHARS = 500
MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class PlanError(ValueError):
    """The plan is invalid; the message names the step and the rule it breaks."""


def validate_plan(raw_steps: Sequence[Any]) -> list[PlanStep]:
    """Check every step and the one-in-progress rule; return typed steps."""
    if len(raw_steps) > MAX_STEPS:
        raise PlanError(f"the plan has {len(raw_steps)} steps; keep it to {MAX_STEPS} or fewer")
    steps: list[PlanStep] = []
    for number, raw in enumerate(raw_steps, start=1):
        data = raw.model_dump() if isinstance(raw, PlanStep) else raw
        if not isinstance(data, dict):
            raise PlanError(f"step {number} must be an object {{step, status}}, got {data!r}")
        text = data.get("step")
        status = data.get("status")
        if not isinstance(text, str) or not text.strip():
            raise PlanError(f"step {number} has no text: 'step' must be a non-empty string")
        if len(text) > MAX_STEP_CHARS:
            raise PlanError(
                f"step {number} is {len(text)} characters; the limit is {MAX_STEP_CHARS}"
            )
        if status not in STATUSES:
            raise PlanError(
                f"step {number} ({text.strip()!r}) has status {status!r}; "
                f"use one of {', '.join(STATUSES)}"
            )
        steps.append(PlanStep(step=text.strip(), status=status))
    active = [i for i, s in enumerate(steps, start=1) if s.status == "in_progress"]
    if len(active) > 1:
        names = ", ".join(f"{i} ({steps[i - 1].step!r})" for i in active)
        raise PlanError(
            f"steps {names} are all in_progress; at most one step may be in_progress at a time"
        )
    return steps


def render_plan(explanation: str | None, steps: Sequence[PlanStep]) -> str:
    if not steps:
        return "(no plan)" if not explanation else f"{explanation}\n(no steps)"
    done = sum(s.status == "completed" for s in steps)
    lines = [f"Plan ({done}/{len(steps)} done)"]
    if explanation:
        lines.append(explanation)
    lines.extend(f"{MARKS[s.status]} {i}. {s.step}" for i, s in enumerate(steps, start=1))
    return "\n".join(lines)
