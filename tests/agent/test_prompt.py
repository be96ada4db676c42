from __future__ import annotations

from pathlib import Path

from agent.prompt import (
    BASE_INSTRUCTIONS,
    HANDOFF_PREFIX,
    Environment,
    agents_files,
    initial_context,
    message_text,
    user_message,
    user_texts,
)

ENV = Environment(cwd=Path("/x"), shell="zsh", os="Linux 6", date="2025-02-03", timezone="CET")


def test_agents_files_from_root_down_to_cwd(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sub = repo / "pkg" / "mod"
    sub.mkdir(parents=True)
    (repo / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("outside the repository: not read")
    (repo / "AGENTS.md").write_text("root rules")
    (repo / "pkg" / "AGENTS.md").write_text("pkg rules")
    assert agents_files(sub) == [repo / "AGENTS.md", repo / "pkg" / "AGENTS.md"]


def test_initial_context_order_and_content(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("Use tabs.")
    items = initial_context(tmp_path, sandbox="read-only", approval="untrusted", environment=ENV)
    roles = [item["role"] for item in items]
    assert roles == ["developer", "user", "user"]
    permissions, agents, env = (message_text(item) or "" for item in items)
    assert "read-only" in permissions and "untrusted" in permissions
    assert "Use tabs." in agents and str(tmp_path) in agents
    assert "<shell>zsh</shell>" in env and "<current_date>2025-02-03</current_date>" in env


def test_no_agents_file_means_no_message(tmp_path: Path) -> None:
    items = initial_context(tmp_path, sandbox="workspace-write", approval="never", environment=ENV)
    assert len(items) == 2


def test_initial_context_is_deterministic(tmp_path: Path) -> None:
    a = initial_context(tmp_path, sandbox="workspace-write", approval="never", environment=ENV)
    b = initial_context(tmp_path, sandbox="workspace-write", approval="never", environment=ENV)
    assert a == b


def test_base_instructions_name_the_bundled_tools() -> None:
    for tool in ("read_file", "grep", "apply_patch", "exec_command", "update_plan"):
        assert tool in BASE_INSTRUCTIONS


def test_user_texts_skip_context_and_old_summaries() -> None:
    context = [user_message("<environment_context>...</environment_context>")]
    items = [
        *context,
        user_message("fix it"),
        user_message(HANDOFF_PREFIX + "old summary"),
        user_message("and add a test"),
    ]
    assert [message_text(i) for i in user_texts(items, context)] == ["fix it", "and add a test"]
