"""Plan validation, rendering and the state file: pure functions, no MCP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.plan import PlanState, PlanStep
from servers.plan.planning import MAX_STEP_CHARS, MAX_STEPS, PlanError, render_plan, validate_plan
from servers.plan.store import default_state_file, load_state, save_state


def steps(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"step": s, "status": st} for s, st in pairs]


def test_valid_plan_is_typed_and_trimmed() -> None:
    plan = validate_plan(
        steps(
            ("  Read the code ", "completed"), ("Fix the bug", "in_progress"), ("Test", "pending")
        )
    )
    assert plan == [
        PlanStep(step="Read the code", status="completed"),
        PlanStep(step="Fix the bug", status="in_progress"),
        PlanStep(step="Test", status="pending"),
    ]


def test_accepts_models_and_empty_plans() -> None:
    assert validate_plan([PlanStep(step="x", status="pending")]) == [
        PlanStep(step="x", status="pending")
    ]
    assert validate_plan([]) == []


def test_two_in_progress_names_both_steps() -> None:
    with pytest.raises(PlanError) as info:
        validate_plan(steps(("a", "completed"), ("b", "in_progress"), ("c", "in_progress")))
    message = str(info.value)
    assert "steps 2 ('b'), 3 ('c') are all in_progress" in message
    assert "at most one step may be in_progress" in message


def test_no_in_progress_is_fine() -> None:
    assert len(validate_plan(steps(("a", "pending"), ("b", "completed")))) == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (steps(("ok", "pending"), ("Deploy", "done")), "step 2 ('Deploy') has status 'done'"),
        (
            steps(("ok", "pending"), ("Deploy", "done")),
            "use one of pending, in_progress, completed",
        ),
        ([{"step": "x"}], "step 1 ('x') has status None"),
        (steps(("ok", "pending"), ("", "pending")), "step 2 has no text"),
        (steps(("   ", "pending")), "step 1 has no text: 'step' must be a non-empty string"),
        ([{"status": "pending"}], "step 1 has no text"),
        ([{"step": 5, "status": "pending"}], "step 1 has no text"),
        (["just a string"], "step 1 must be an object {step, status}, got 'just a string'"),
        (
            steps(("a", "pending"), ("x" * (MAX_STEP_CHARS + 1), "pending")),
            "step 2 is 501 characters",
        ),
        (steps(*[("s", "pending")] * (MAX_STEPS + 1)), f"keep it to {MAX_STEPS} or fewer"),
    ],
)
def test_errors_say_which_step_and_why(raw: list[object], message: str) -> None:
    with pytest.raises(PlanError) as info:
        validate_plan(raw)
    assert message in str(info.value)


def test_render_plan() -> None:
    plan = validate_plan(steps(("Read", "completed"), ("Fix", "in_progress"), ("Test", "pending")))
    assert render_plan("Found the cause", plan) == (
        "Plan (1/3 done)\nFound the cause\n[x] 1. Read\n[~] 2. Fix\n[ ] 3. Test"
    )
    assert render_plan(None, []) == "(no plan)"
    assert render_plan("why", []) == "why\n(no steps)"


def test_state_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "plan.json"
    state = PlanState(explanation="e", plan=[PlanStep(step="a", status="pending")], updated_at="t")
    save_state(path, state)
    assert load_state(path) == state
    assert json.loads(path.read_text())["plan"] == [{"step": "a", "status": "pending"}]
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]  # no temp files left


@pytest.mark.parametrize("content", [None, "", "{not json", '{"plan": [{"step": 1}]}', "[]"])
def test_missing_or_corrupt_state_starts_fresh(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    assert load_state(path) == PlanState()


def test_default_state_file_is_per_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    a = default_state_file(Path("/work/project"))
    b = default_state_file(Path("/other/project"))
    assert a == default_state_file(Path("/work/project"))
    assert a != b
    assert a.is_relative_to(tmp_path / "state")
    assert a.name.startswith("project-") and a.suffix == ".json"
    assert default_state_file(Path("/")).name.startswith("root-")
