"""The shared apply_patch conformance corpus: every scenario's final tree, byte for byte.

Scenario 015 records the reference tool's non-atomic behaviour (the first file stays written when
a later one fails); this server is atomic, so there the input tree must come out unchanged.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from servers.common.workspace import Workspace
from servers.patch.engine import run_patch
from servers.patch.model import PatchError
from tests.patch.conftest import tree
from tests.support import SHARED

CORPUS = SHARED / "conformance" / "apply_patch"
ATOMIC_INSTEAD = {"015_failure_after_partial_success_leaves_changes"}
SCENARIOS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is not present")


def test_corpus_is_complete() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name: str, tmp_path: Path) -> None:
    case = CORPUS / name
    root = tmp_path / "tree"
    if (case / "input").is_dir():
        shutil.copytree(case / "input", root)
        for path in [root, *root.rglob("*")]:  # the corpus is read-only; the copy must not be
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        root.mkdir()
    before = tree(root)
    patch = (case / "patch.txt").read_bytes().decode("utf-8")
    # The exit status is not part of a scenario; the final tree is.
    with contextlib.suppress(PatchError):
        run_patch(patch, Workspace.from_paths([root]), journal_dir=tmp_path / "j")
    expected = before if name in ATOMIC_INSTEAD else tree(case / "expected")
    assert tree(root) == expected
    assert not any((tmp_path / "j").glob("*")), "a journal was left behind"
