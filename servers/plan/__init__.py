"""The plan server: the agent's checklist, persisted and observable."""

from servers.plan.server import PlanSettings, create_server

__all__ = ["PlanSettings", "create_server"]
