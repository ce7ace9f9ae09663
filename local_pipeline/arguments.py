"""The command line's values, checked before anything is written: every problem is a :class:`UsageError` that names
the option, the value and the fix (exit status 2), never a traceback from deep inside a run.

The checks run in an order that writes nothing until all of them passed: the definition is read, the workspace's
folder is checked (created only when the run starts), ``--input`` and the ``--seed``/``--s3-object`` files are
checked for existence and readability, and ``--param`` assignments are split (their types are checked against the
definition by :mod:`local_pipeline.parameters`, still before anything runs).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from local_pipeline.errors import UsageError
from local_pipeline.expressions import Json

#: SageMaker's pipeline name pattern (CreatePipeline's PipelineName).
PIPELINE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}")


def assignments(items: Sequence[str], option: str, *, unique: bool = False) -> list[tuple[str, str]]:
    """``NAME=VALUE`` items of ``option``; ``unique``: a name given twice is an error, not "the last one wins"."""
    pairs: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} {item!r}: expected NAME=VALUE")
        if unique and name in seen:
            raise UsageError(f"{option} {name} is given twice ({seen[name]!r} and {value!r}): give it once")
        seen[name] = value
        pairs.append((name, value))
    return pairs


def pipeline_name(name: str) -> str:
    if not PIPELINE_NAME.fullmatch(name):
        raise UsageError(
            f"--pipeline-name {name!r}: must be 1-256 letters, digits and '-', starting and ending with a letter or "
            "digit (SageMaker's pipeline names)"
        )
    return name


def read_definition(path: Path) -> dict[str, Json]:
    """The JSON object in the ``--definition`` file."""
    option = f"--definition {path}"
    if path.is_dir():
        raise UsageError(f"{option}: is a folder; give the pipeline definition's JSON file")
    if not path.is_file():
        raise UsageError(f"{option}: no such file")
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{option}: cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option}: byte {exc.start} is not UTF-8; save the file as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(definition, dict):
        raise UsageError(f"{option}: not a pipeline definition (a JSON object), got a {type(definition).__name__}")
    return definition


def workspace(path: Path) -> Path:
    """The workspace's absolute path, if it is (or can become) a writable folder; nothing is created here."""
    resolved = path.expanduser().resolve()
    option = f"--workspace {path}"
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(f"{option}: is a file, not a folder; give a folder for the runs (default .local-pipeline)")
    existing = next(parent for parent in (resolved, *resolved.parents) if parent.exists())
    if not existing.is_dir():
        raise UsageError(f"{option}: {existing} is a file, so no folder can be created under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot write to {existing} (permission denied); give a folder you can write to")
    return resolved


def create_workspace(path: Path) -> None:
    try:
        (path / "executions").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--workspace {path}: cannot create the folder: {exc.strerror}") from None


def _readable(path: Path, option: str) -> None:
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror}") from None


def local_data(value: str, option: str) -> Path:
    """A local file, or a folder holding files (each readable), given as ``value`` by ``option`` (e.g. ``--input
    data.csv``, for the messages)."""
    if value.startswith("s3://"):
        raise UsageError(
            f"{option}: the local run reads local files only; download the data (aws s3 cp) and give its path, or "
            "run the pipeline in the cloud for data in S3"
        )
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise UsageError(f"{option}: no such file or folder ({path})")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise UsageError(f"{option}: the folder holds no files")
        for file in files:
            _readable(file, option)
    elif path.is_file():
        _readable(path, option)
    else:
        raise UsageError(f"{option}: neither a regular file nor a folder")
    return path
