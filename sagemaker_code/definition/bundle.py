"""The step-code bundle: a reproducible ``sourcedir.tar.gz`` of the container step code, the dataset spec and the
hyperparameter table.

The archive holds ``sagemaker_code/__init__.py`` (empty), ``sagemaker_code/steps/*.py`` (the code that runs inside
the SageMaker containers, and nothing else: synth-time code and the local runner live elsewhere),
``dataset_spec.json`` (the validated spec the steps read), ``hyperparameters.json`` (the hyperparameter table the
training step builds its arguments and checks from, derived from the config schema) and ``train.py`` (the training
program's launcher); the names are :mod:`sagemaker_code.steps.contract`'s. The same archive is the code input of
every processing step (unpacked by the step's entrypoint), the ``sagemaker_submit_directory`` of the training job (the
XGBoost container's script mode unpacks it), and what the local runner unpacks. Entries are sorted and carry fixed
metadata, so the archive (and therefore the CDK asset hash) changes only when its content changes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagemaker_code.definition.settings import hyperparameter_table
from sagemaker_code.steps import contract
from sagemaker_code.steps.hyperparameters import Hyperparameter, table_json

#: The container step code: every module of this package is bundled.
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "steps"
PACKAGE_PATH = "sagemaker_code/steps"


def bundled_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(package_dir.glob("*.py"))


SPEC_FILE_NAME = contract.SPEC_FILE
#: Top-level launcher of the training program. Script mode of the XGBoost container runs ``sagemaker_program``
#: either as ``python train.py`` or as ``python -m train`` from the unpacked bundle; a top-level module works both
#: ways (the package path ``sagemaker_code/steps/train.py`` would not be a valid module name for ``-m``).
TRAIN_LAUNCHER = (
    contract.TRAIN_PROGRAM,
    f"from {contract.TRAIN_MODULE} import main\n\nraise SystemExit(main())\n".encode(),
)


def _json(data: object) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def build_bundle(
    spec: dict[str, Any],
    package_dir: Path = PACKAGE_DIR,
    *,
    hyperparameters: Sequence[Hyperparameter] | None = None,
) -> bytes:
    """The gzip-compressed tar of the step modules, the spec and the hyperparameter table (default: the config
    schema's, :func:`~sagemaker_code.definition.settings.hyperparameter_table`), byte-for-byte reproducible."""
    table = hyperparameter_table() if hyperparameters is None else hyperparameters
    entries = [("sagemaker_code/__init__.py", b"")]
    entries += [(f"{PACKAGE_PATH}/{path.name}", path.read_bytes()) for path in bundled_files(package_dir)]
    entries.append((contract.SPEC_FILE, _json(spec)))
    entries.append((contract.HYPERPARAMETER_TABLE, _json(table_json(table))))
    entries.append(TRAIN_LAUNCHER)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def write_bundle(
    directory: Path,
    spec: dict[str, Any],
    package_dir: Path = PACKAGE_DIR,
    *,
    hyperparameters: Sequence[Hyperparameter] | None = None,
) -> Path:
    """Write the bundle as ``<directory>/<sha256 prefix>/sourcedir.tar.gz`` (content-addressed) and return it."""
    data = build_bundle(spec, package_dir, hyperparameters=hyperparameters)
    target = directory / hashlib.sha256(data).hexdigest()[:16] / "sourcedir.tar.gz"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target
