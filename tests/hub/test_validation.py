"""The hub's output-schema check: compiled first, the SDK's verdict and message otherwise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from agent.hub import Hub
from agent.hub.validation import FastValidationSession, _FastFirst, compile_fast
from tests.hub.conftest import make_settings, server_toml

SNAPSHOTS = Path(__file__).resolve().parents[2] / "schemas" / "tools"


def bundled_output_schemas() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for snapshot in sorted(SNAPSHOTS.glob("*.json")):
        for tool in json.loads(snapshot.read_text()):
            if tool.get("outputSchema"):
                found.append((f"{snapshot.stem}.{tool['name']}", tool["outputSchema"]))
    return found


SCHEMAS = bundled_output_schemas()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def test_every_bundled_output_schema_compiles() -> None:
    assert len(SCHEMAS) >= 8
    for name, schema in SCHEMAS:
        assert compile_fast(schema) is not None, name


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[n for n, _ in SCHEMAS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_first_agrees_with_the_sdk_validator(
    name: str, schema: dict[str, Any], data: st.DataObject
) -> None:
    slow = validator_for(schema)(schema)
    fast = _FastFirst(slow, compile_fast(schema))
    # Random values are almost all invalid; mutating the keys of the schema's own object
    # shape gets closer to valid ones, so both verdicts are exercised.
    props = schema.get("properties", {})
    instance = data.draw(
        json_values
        | st.fixed_dictionaries({key: json_values for key in props})
        | st.fixed_dictionaries({key: json_values for key in schema.get("required", [])})
    )
    slow_errors = [e.message for e in slow.iter_errors(instance)]
    fast_errors = [e.message for e in fast.iter_errors(instance)]
    assert fast_errors == slow_errors


def test_remote_references_are_not_fetched() -> None:
    schema = {"$ref": "https://schemas.invalid/never-fetched.json"}
    began = time.perf_counter()
    assert compile_fast(schema) is None
    assert time.perf_counter() - began < 5  # a refused lookup, not a network timeout


def test_a_schema_it_cannot_compile_keeps_the_sdk_check() -> None:
    assert compile_fast({"type": "no-such-type"}) is None


@pytest.mark.anyio
async def test_hub_checks_results_and_reports_a_broken_one_with_the_sdks_message(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, server_toml("misbehave"))
    async with Hub.start(settings) as hub:
        client = await hub.client("misbehave")
        assert isinstance(client.session, FastValidationSession)

        good = await hub.call_detailed("misbehave__reading", "{}", "c1")
        assert not good.is_error
        assert good.item["output"] == "21 C"
        # the compiled validator is the one in use for this tool
        validator = client.session._output_schema_validator(
            "reading", client.session._tool_output_schemas["reading"]
        )
        assert isinstance(validator, _FastFirst)

        bad = await hub.call_detailed("misbehave__reading", '{"valid": false}', "c2")
        assert bad.is_error
        assert str(bad.item["output"]).startswith(
            "ERROR: server 'misbehave' returned an invalid result: Invalid structured content "
            "returned by tool reading: 'warm' is not of type 'integer'"
        )
