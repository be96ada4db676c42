"""Where the plan lives between restarts: one JSON file, replaced atomically on every update."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import platformdirs
from pydantic import ValidationError

from schemas.plan import PlanState
from servers.common.atomic import write_atomic


def default_state_file(workspace_root: Path) -> Path:
    """``<user state dir>/toolwire/plans/<name>-<hash of root>.json``: one plan per workspace."""
    digest = hashlib.sha256(str(workspace_root).encode()).hexdigest()[:16]
    base = Path(platformdirs.user_state_dir("toolwire"))
    return base / "plans" / f"{workspace_root.name or 'root'}-{digest}.json"


def load_state(path: Path) -> PlanState:
    """The saved plan, or an empty one if there is none (or it is unreadable: start fresh)."""
    try:
        return PlanState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return PlanState()


def save_state(path: Path, state: PlanState) -> None:
    """Replace the state file atomically: a crash never leaves a half-written plan."""
    write_atomic(path, json.dumps(state.model_dump(mode="json"), indent=2).encode())
