"""One call of ``apply_patch`` without MCP: parse, plan, commit, and describe the outcome.

Blocking (it reads and writes files); the server runs it in a worker thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import platformdirs

from schemas.patch import ApplyPatchResult, PatchedFile
from servers.common.limits import clip
from servers.common.workspace import Workspace
from servers.patch.apply import commit, recover
from servers.patch.model import PatchError
from servers.patch.parser import parse_patch
from servers.patch.plan import MAX_FILE_BYTES, plan_patch

MAX_DIFF_BYTES = 8_000
NOTHING_WRITTEN = "No file was changed."
_LOCK = threading.Lock()


def default_journal_dir() -> Path:
    """``<user state dir>/toolwire/patch-journal``: where interrupted patches are recorded."""
    return Path(platformdirs.user_state_dir("toolwire")) / "patch-journal"


def run_patch(
    text: str,
    workspace: Workspace,
    *,
    dry_run: bool = False,
    journal_dir: Path | None = None,
    durable: bool = False,
    max_diff_bytes: int = MAX_DIFF_BYTES,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> ApplyPatchResult:
    """Apply (or with ``dry_run`` only check) ``text``. Raises :class:`PatchError` with a message
    for the model; when it does, no file has changed."""
    journal = journal_dir or default_journal_dir()
    with _LOCK:  # plan and commit as one step: a concurrent call must not interleave
        try:
            recover(journal, workspace.contains)
            plan = plan_patch(parse_patch(text), workspace, max_file_bytes=max_file_bytes)
            if not dry_run:
                commit(plan.writes, plan.new_dirs, journal_dir=journal, durable=durable)
        except PatchError as exc:
            raise PatchError(f"{exc}\n{NOTHING_WRITTEN}") from None
        except OSError as exc:  # unreadable file, full disk, permissions: the commit rolled back
            where = f" ({exc.filename})" if exc.filename else ""
            raise PatchError(f"{exc.strerror or exc}{where}\n{NOTHING_WRITTEN}") from exc
    diff = clip(
        "".join(change.diff for change in plan.changes),
        max_bytes=max_diff_bytes,
        hint="the files themselves have every change",
    )
    files = [
        PatchedFile(
            status=c.status,
            path=c.path,
            old_path=c.old_path,
            added=c.added,
            removed=c.removed,
            note=c.note,
        )
        for c in plan.changes
    ]
    return ApplyPatchResult(
        applied=not dry_run,
        dry_run=dry_run,
        format=plan.format,
        files=files,
        diff=diff.text,
        diff_truncated=diff.truncated,
        notes=plan.notes,
    )


def render_result(result: ApplyPatchResult) -> str:
    """What the model reads: a status line per file, loose-match notes, then the diff."""
    added = sum(f.added for f in result.files)
    removed = sum(f.removed for f in result.files)
    verb = "Would change" if result.dry_run else "Changed"
    count = len({f.path for f in result.files})
    lines = [f"{verb} {count} file{'s' if count != 1 else ''} (+{added} -{removed})"]
    if result.dry_run:
        lines[0] += "; dry run, nothing written"
    for f in result.files:
        name = f"{f.old_path} -> {f.path}" if f.old_path else f.path
        note = f"; {f.note}" if f.note else ""
        lines.append(f"{f.status} {name} (+{f.added} -{f.removed}{note})")
    lines.extend(f"note: {n}" for n in result.notes)
    if result.diff:
        lines += ["", result.diff.rstrip("\n")]
    return "\n".join(lines)
