"""The container's stand-in: a folder per step that plays the container's ``/``, the processes run in it, archives.

Every container path of the contract (:mod:`sagemaker_code.steps.contract`, all under ``CONTAINER_ROOT``) maps to
the same path under ``<workspace>/steps/<step>/``; command lines and environment variables are rewritten the same
way, and ``python3``/``python`` on the steps' ``PATH`` run this interpreter (the steps need the project's venv).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from local_pipeline.errors import StepError
from sagemaker_code.steps.contract import CONTAINER_ROOT

LOG_TAIL_LINES = 30

_CONTAINER_PATH = re.compile(rf"(?<![\w./-]){re.escape(CONTAINER_ROOT)}(?![\w.-])")
_SAFE_ROOT = re.compile(r"^[A-Za-z0-9_./+-]+$")


def rewrite_container_paths(text: str, root: Path) -> str:
    """Every ``/opt/ml`` path in ``text`` -> the same path under ``root`` (the step's stand-in for ``/``)."""
    return _CONTAINER_PATH.sub(lambda match: f"{root}{match.group(0)}", text)


def local_path(root: Path, container_path: str) -> Path:
    """Where the container path (under ``CONTAINER_ROOT``) is in the step folder ``root``."""
    if container_path != CONTAINER_ROOT and not container_path.startswith(f"{CONTAINER_ROOT}/"):
        raise StepError(f"{container_path!r} is not under {CONTAINER_ROOT}, which is all the runner maps")
    return root / container_path.lstrip("/")


def step_root(workspace: Path, step: str) -> Path:
    """A fresh ``<workspace>/steps/<step>`` with an empty ``CONTAINER_ROOT`` in it (a re-run starts clean)."""
    root = workspace / "steps" / step
    if root.exists():
        shutil.rmtree(root)
    local_path(root, CONTAINER_ROOT).mkdir(parents=True)
    if not _SAFE_ROOT.match(str(root)):
        raise StepError(
            f"the step folder {root} has characters a container command line cannot take unquoted; "
            "use a workspace path of letters, digits and ._+-/"
        )
    return root


@dataclass(frozen=True)
class Command:
    """A process to start: argv, working folder, variables added to the environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


def python_shim(bin_dir: Path) -> Path:
    """``python3``/``python`` that run this interpreter (a script, not a symlink: a symlink loses the virtualenv)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    return bin_dir


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_command(command: Command, *, log: Path, bin_dir: Path, timeout: float | None) -> None:
    """Run ``command`` with this interpreter as ``python3``; stdout and stderr go to ``log``; failure -> StepError."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **command.env,
        "PATH": os.pathsep.join([str(bin_dir), command.env.get("PATH", os.environ.get("PATH", ""))]),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        out.write(f"$ cd {shlex.quote(str(command.cwd))} && {shlex.join(command.argv)}\n")
        out.flush()
        try:
            completed = subprocess.run(  # noqa: S603 - the definition's own container command, run as the container would
                command.argv,
                cwd=command.cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StepError(
                f"stopped after {timeout:g} s (StoppingCondition.MaxRuntimeInSeconds); last lines of {log}:\n"
                f"{log_tail(log)}"
            ) from None
        except OSError as exc:
            raise StepError(f"cannot start {command.argv[0]}: {exc}") from None
    if completed.returncode != 0:
        raise StepError(f"exited with status {completed.returncode}; last lines of {log}:\n{log_tail(log)}")


def extract(archive: Path, destination: Path, what: str) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise StepError(f"{what} {archive} is not a readable .tar.gz archive: {exc}") from None


def pack(folder: Path, archive: Path) -> None:
    """``folder``'s files as a gzip tar (names relative to the folder, sorted), like SageMaker's model.tar.gz."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
