"""The plan: the model's own checklist, shown to the user and kept across restarts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StepStatus = Literal["pending", "in_progress", "completed"]


class PlanStep(BaseModel):
    step: str = Field(description="what to do, in a short sentence")
    status: StepStatus


class PlanState(BaseModel):
    explanation: str | None = None
    plan: list[PlanStep] = Field(default_factory=list)
    updated_at: str | None = Field(default=None, description="ISO 8601 time of the last update")
