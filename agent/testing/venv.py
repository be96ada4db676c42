"""Scratch virtual environments: install a server package for real and see what a user sees.

``make_venv(path)`` creates a venv (without pip: the running interpreter's pip installs into it)
that also sees everything the current environment has installed, toolwire included, so installing
one package takes seconds and needs no network beyond that package's build backend. Use it to
check that a package's entry point registers its server, or that a generated project's tests
pass once installed.

    venv = make_venv(tmp_path / "venv")
    venv.pip_install("-e", str(project))
    done = venv.run("-m", "agent.cli", "tools", cwd=workspace)
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv as stdlib_venv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class VenvError(RuntimeError):
    """A pip install or a command in the venv failed; the message carries its output."""


@dataclass(frozen=True, slots=True)
class Venv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    @property
    def site_packages(self) -> Path:
        paths = sysconfig.get_paths(vars={"base": str(self.root), "platbase": str(self.root)})
        return Path(paths["purelib"])

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of an activated venv: its ``bin`` first on ``PATH``."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        env["VIRTUAL_ENV"] = str(self.root)
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        env.update(extra or {})
        return env

    def pip_install(self, *args: str, time_limit: float = 300) -> None:
        """``pip install ARGS`` into this venv, using the running interpreter's pip."""
        argv = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q"]
        argv += ["--disable-pip-version-check", *args]
        self._check(argv, time_limit, os.environ.copy(), None)

    def run(
        self,
        *args: str,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        time_limit: float = 300,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python ARGS`` in the venv (bounded); raise :class:`VenvError` on failure."""
        argv = [str(self.python), *args]
        if check:
            return self._check(argv, time_limit, self.env(env), cwd)
        return subprocess.run(
            argv,
            cwd=cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=time_limit,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    @staticmethod
    def _check(
        argv: list[str], time_limit: float, env: dict[str, str], cwd: str | Path | None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=time_limit,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            raise VenvError(
                f"{' '.join(argv)} exited {done.returncode}\n"
                f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
            )
        return done


def make_venv(path: Path, *, inherit: bool = True) -> Venv:
    """Create a venv at ``path``. With ``inherit``, a ``.pth`` file makes the current
    environment's site-packages (and their own ``.pth`` files, so editable installs work)
    visible after the venv's own packages, which therefore take precedence."""
    stdlib_venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(path)
    created = Venv(path)
    if inherit:
        parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        lines = [f"import site; site.addsitedir({p!r})" for p in sorted(parents)]
        created.site_packages.mkdir(parents=True, exist_ok=True)
        (created.site_packages / "_toolwire_parent_env.pth").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    return created


__all__ = ["Venv", "VenvError", "make_venv"]
