from __future__ import annotations

import pytest

from agent.approval import (
    Annotations,
    Approver,
    Decision,
    Policy,
    Request,
    denied_output,
    describe_arguments,
    needs_approval,
)

READ_ONLY = Annotations(read_only_hint=True, destructive_hint=False)
WRITES = Annotations(read_only_hint=False, destructive_hint=False)
DESTROYS = Annotations(read_only_hint=False, destructive_hint=True)


@pytest.mark.parametrize(
    ("policy", "hints", "held"),
    [
        (Policy.NEVER, DESTROYS, False),
        (Policy.NEVER, None, False),
        (Policy.ON_REQUEST, READ_ONLY, False),
        (Policy.ON_REQUEST, WRITES, False),
        (Policy.ON_REQUEST, DESTROYS, True),
        (Policy.ON_REQUEST, None, True),  # MCP's default: assume destructive
        (Policy.ON_REQUEST, Annotations(), True),
        (Policy.UNTRUSTED, READ_ONLY, False),
        (Policy.UNTRUSTED, WRITES, True),
        (Policy.UNTRUSTED, None, True),
    ],
)
def test_policy_matrix(policy: Policy, hints: Annotations | None, held: bool) -> None:
    assert needs_approval(policy, hints) is held


@pytest.mark.anyio
async def test_yes_approves_everything_without_asking() -> None:
    async def never_called(request: Request) -> Decision:
        raise AssertionError("asked")

    approver = Approver(Policy.UNTRUSTED, yes=True, ask=never_called)
    assert (await approver.decide(Request("rm", "{}", "c1"), DESTROYS)).approved


@pytest.mark.anyio
async def test_always_is_remembered_per_tool() -> None:
    asked: list[str] = []

    async def ask(request: Request) -> Decision:
        asked.append(request.call_id)
        return Decision(True, remember=True)

    approver = Approver(Policy.UNTRUSTED, ask=ask)
    for call_id in ("c1", "c2", "c3"):
        assert (await approver.decide(Request("write", "{}", call_id), WRITES)).approved
    assert asked == ["c1"]


@pytest.mark.anyio
async def test_without_a_terminal_held_calls_are_denied_with_a_reason() -> None:
    decision = await Approver(Policy.ON_REQUEST).decide(Request("rm", "{}", "c1"), None)
    assert not decision.approved and "--yes" in decision.reason
    text = denied_output("rm", decision.reason)
    assert text.startswith("ERROR:") and "denied" in text and "rm" in text


def test_describe_arguments_is_readable() -> None:
    text = describe_arguments('{"cmd": "ls -l", "lines": ["a", "b"], "body": "x\\ny"}')
    assert "cmd: ls -l" in text and '["a", "b"]' in text and "\n    y" in text
    assert describe_arguments("not json") == "not json"
