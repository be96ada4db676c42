"""Make ``toolwire_git`` importable from a checkout (installed or not) and run tests on asyncio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PROJECT = str(Path(__file__).resolve().parents[1])
if PROJECT not in sys.path:
    sys.path.insert(0, PROJECT)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
