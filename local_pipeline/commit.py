"""The commit a local run trains: ``git rev-parse HEAD`` of the repository the app is synthesized from, marked
``<sha>-dirty`` when the working tree holds uncommitted changes to the app's inputs.

The cloud run gets ``GitCommit`` from the delivery pipeline; a local run used to register ``unknown``. The CLI now
sets it (unless ``--param GitCommit=...`` does), and the RegisterModel step records it in the package's
``CustomerMetadataProperties`` like in the cloud.

Uncommitted changes are marked, not refused: a local run is how one tries a change before committing it, and the
marker keeps a package trained from such a tree from passing for the commit's. The inputs are the files a synth reads
(:func:`tools.synth.is_input`: config, dataset spec, sample data, step code, definition, stacks); tests, docs, the
local runner and the workspace are not. Data given with ``--input`` is outside the repository and not covered.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.synth import is_input

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The definition's parameter (sagemaker_code/definition/parameters.py; tools/pipeline_executions.py starts cloud
#: executions with it).
COMMIT_PARAMETER = "GitCommit"
DIRTY = "-dirty"


@dataclass(frozen=True)
class WorkingTreeCommit:
    """``commit`` is None when it cannot be known; ``reason`` then says why."""

    commit: str | None
    changed: tuple[str, ...] = ()  # uncommitted inputs, relative to the app's folder
    reason: str = ""

    @property
    def value(self) -> str | None:
        """What GitCommit gets: the commit, with ``-dirty`` when inputs changed."""
        if self.commit is None:
            return None
        return self.commit + (DIRTY if self.changed else "")


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise FileNotFoundError("git")
    command = [git, "-C", str(root), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603 - fixed git commands
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"git {args[0]} exited {result.returncode}")
    return result.stdout


def changed_inputs(root: Path, porcelain: str, toplevel: Path) -> tuple[str, ...]:
    """The app's input files under ``root`` that ``git status --porcelain -z`` output (paths relative to
    ``toplevel``) lists as changed, added, deleted or untracked."""
    entries = porcelain.split("\0")
    changed: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            index += 1  # a rename or copy is followed by its source path
        absolute = toplevel / path
        if absolute.is_relative_to(root):
            relative = absolute.relative_to(root).as_posix()
            if is_input(relative):
                changed.append(relative)
    return tuple(sorted(set(changed)))


def working_tree_commit(root: Path = REPO_ROOT) -> WorkingTreeCommit:
    """HEAD of the repository holding ``root`` and its uncommitted input files (never raises)."""
    try:
        toplevel = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        commit = _git(root, "rev-parse", "--verify", "HEAD").strip()
        porcelain = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    except FileNotFoundError:
        return WorkingTreeCommit(None, reason="git is not installed")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return WorkingTreeCommit(None, reason=f"git in {root}: {exc}")
    return WorkingTreeCommit(commit, changed_inputs(root.resolve(), porcelain, toplevel.resolve()))
