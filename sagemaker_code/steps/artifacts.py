"""The model folder as Train writes it (and SageMaker packs it into model.tar.gz), read by the Evaluate step.

The served model (``xgboost-model.json`` and ``transform.json`` with its decision threshold), the comparison model
(``comparison/``: the other bias mitigation, trained on the same splits) and ``training.json`` (which mitigation
each has). Evaluate takes ``model.tar.gz`` as the pipeline passes it (a folder holding it), the archive itself, or
an unpacked model folder.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.inference import MODEL_FILE, ServingModel, load_model
from sagemaker_code.steps.transform import TRANSFORM_FILE, TransformFileError

#: The model folder's files Evaluate reads: the served model, the comparison model, the training report.
COMPARISON_MODEL = f"{contract.COMPARISON_FOLDER}/{MODEL_FILE}"
COMPARISON_TRANSFORM = f"{contract.COMPARISON_FOLDER}/{TRANSFORM_FILE}"
TRAINING_REPORT = "training.json"
MODEL_FILES = (MODEL_FILE, TRANSFORM_FILE, COMPARISON_MODEL, COMPARISON_TRANSFORM, TRAINING_REPORT)


def read_model_files(path: Path) -> tuple[Path, dict[str, bytes]]:
    """(where, the :data:`MODEL_FILES` present) of model.tar.gz, a folder holding it, or an unpacked model folder;
    the served model's two files are required."""
    if path.is_dir() and not (path / MODEL_FILE).is_file():
        archives = sorted(path.glob("*.tar.gz"))
        if len(archives) != 1:
            found = [archive.name for archive in archives]
            raise StepError(f"{path}: expected one model.tar.gz or an unpacked model ({MODEL_FILE}), found {found}")
        path = archives[0]
    contents: dict[str, bytes] = {}
    if path.is_dir():
        contents = {name: (path / name).read_bytes() for name in MODEL_FILES if (path / name).is_file()}
        if TRANSFORM_FILE not in contents:
            raise StepError(f"{path}: the model folder has no {TRANSFORM_FILE}")
        return path, contents
    if not path.is_file():
        raise StepError(f"model not found: {path}")
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {member.name.removeprefix("./"): member for member in archive.getmembers() if member.isfile()}
            for name in MODEL_FILES:
                member = archive.extractfile(members[name]) if name in members else None
                if member is not None:
                    contents[name] = member.read()
    except (tarfile.TarError, OSError) as exc:
        raise StepError(f"{path}: not a readable .tar.gz archive: {exc}") from None
    for name in (MODEL_FILE, TRANSFORM_FILE):
        if name not in contents:
            raise StepError(f"{path}: the archive has no {name}; it has {sorted(members)}")
    return path, contents


def load_model_artifacts(path: Path) -> ServingModel:
    """The booster and transform from model.tar.gz (or a folder holding it, or an unpacked model folder)."""
    where, files = read_model_files(path)
    return _load(where, files[MODEL_FILE], files[TRANSFORM_FILE])


@dataclass(frozen=True)
class Comparison:
    """The model folder's comparison model (the other bias mitigation) and which mitigation each model has."""

    model: ServingModel | None
    served: str
    other: str | None


def load_comparison(path: Path) -> Comparison:
    """The comparison model of the model folder, if it has one, and the bias mitigation of both (training.json)."""
    where, files = read_model_files(path)
    served, other = contract.NO_MITIGATION, None
    if TRAINING_REPORT in files:
        try:
            record = json.loads(files[TRAINING_REPORT]).get("bias_mitigation") or {}
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise StepError(f"{where}: {TRAINING_REPORT} is not a JSON object: {exc}") from None
        served, other = record.get("served", served), record.get("comparison")
    if COMPARISON_MODEL not in files or COMPARISON_TRANSFORM not in files or other is None:
        return Comparison(None, served, None)
    return Comparison(_load(where, files[COMPARISON_MODEL], files[COMPARISON_TRANSFORM]), served, other)


def _load(where: Path, model: bytes, transform: bytes) -> ServingModel:
    try:
        return load_model(model, transform.decode("utf-8"))
    except (TransformFileError, UnicodeDecodeError) as exc:
        raise StepError(f"{where}: {exc}") from None
