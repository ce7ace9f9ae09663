"""The step-code bundle is reproducible and holds exactly the container step code (which imports nothing else), the
spec and the hyperparameter table, where the steps look for them."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

from sagemaker_code.definition.bundle import PACKAGE_DIR, build_bundle, write_bundle
from sagemaker_code.definition.settings import hyperparameter_table
from sagemaker_code.steps import contract
from sagemaker_code.steps.hyperparameters import Hyperparameter, parse_table

SPEC = {"name": "t", "columns": []}
#: What the SageMaker XGBoost 3.2-0 image provides besides the standard library (its pyproject.toml).
#: scipy, boto3 and botocore: the monitor's tests and its AWS calls (aws/sagemaker-xgboost-container pins all three
#: in its requirements.txt; the image also carries scikit-learn, which the step code does not use).
IMAGE_PACKAGES = frozenset({"numpy", "pandas", "xgboost", "sagemaker_inference", "flask", "scipy", "boto3", "botocore"})


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return archive.getnames()


def test_bundle_is_byte_for_byte_reproducible() -> None:
    assert build_bundle(SPEC) == build_bundle(SPEC)


def test_bundle_changes_with_the_spec() -> None:
    assert build_bundle(SPEC) != build_bundle({**SPEC, "name": "u"})


def test_bundle_changes_with_the_hyperparameter_table() -> None:
    table = hyperparameter_table()
    other = (*table[:-1], Hyperparameter(table[-1].name, table[-1].json_type, table[-1].default, "Another text."))
    assert build_bundle(SPEC, hyperparameters=table) == build_bundle(SPEC)  # the default: the config schema's
    assert build_bundle(SPEC, hyperparameters=other) != build_bundle(SPEC)


def member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        extracted = archive.extractfile(name)
        assert extracted is not None
        return extracted.read()


def test_the_table_in_the_bundle_is_the_config_schemas() -> None:
    """What the training step reads back is what the definition made pipeline parameters of."""
    carried = parse_table(json.loads(member(build_bundle(SPEC), contract.HYPERPARAMETER_TABLE)), "bundle")
    assert carried == hyperparameter_table()
    assert json.loads(member(build_bundle(SPEC), contract.SPEC_FILE)) == SPEC


def test_bundle_holds_the_step_package_the_spec_and_the_launcher_and_nothing_else() -> None:
    content = names(build_bundle(SPEC))
    steps = sorted(f"sagemaker_code/steps/{path.name}" for path in PACKAGE_DIR.glob("*.py"))
    assert content == [
        "sagemaker_code/__init__.py",
        *steps,
        contract.SPEC_FILE,
        contract.HYPERPARAMETER_TABLE,
        contract.TRAIN_PROGRAM,
    ]
    for step in ("preprocess", "train", "evaluate", "bias", "inference", "spec", "transform", "contract"):
        assert f"sagemaker_code/steps/{step}.py" in content


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_step_code_imports_only_itself_the_standard_library_and_the_images_packages() -> None:
    stdlib = set(sys.stdlib_module_names)
    outside = {
        f"{path.name}: {module}"
        for path in PACKAGE_DIR.glob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] not in stdlib | IMAGE_PACKAGES
        and not module.startswith("sagemaker_code.steps")
        and module not in {"_bootstrap", "__future__"}
    }
    assert not outside, f"container step code imports code the image does not have: {sorted(outside)}"


def test_bundle_metadata_is_neutral() -> None:
    with tarfile.open(fileobj=io.BytesIO(build_bundle(SPEC)), mode="r:gz") as archive:
        for member in archive.getmembers():
            assert (member.mtime, member.uid, member.gid, member.uname, member.mode) == (0, 0, 0, "", 0o644)


def test_write_bundle_is_content_addressed(tmp_path: Path) -> None:
    first = write_bundle(tmp_path, SPEC)
    assert write_bundle(tmp_path, SPEC) == first
    other = write_bundle(tmp_path, {**SPEC, "name": "u"})
    assert other != first
    assert first.read_bytes() == build_bundle(SPEC)


def test_the_launcher_runs_the_training_program_from_the_unpacked_bundle(tmp_path: Path) -> None:
    """What script mode does: unpack the bundle, run ``python train.py`` there (no repository on the path)."""
    with tarfile.open(fileobj=io.BytesIO(build_bundle(SPEC)), mode="r:gz") as archive:
        archive.extractall(tmp_path, filter="data")
    purelib = sysconfig.get_paths()["purelib"]
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = ['', {purelib!r}]; "
         "sys.argv = ['train.py', '--help']; exec(open('train.py').read())"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: train.py" in result.stdout
    # the table was found where the step looks by default: every hyperparameter is an argument
    for row in hyperparameter_table():
        assert f"--{row.name} {row.kind.__name__.upper()}" in result.stdout


def test_from_the_unpacked_bundle_the_train_defaults_are_the_bundled_files(tmp_path: Path) -> None:
    """Script mode unpacks the bundle into /opt/ml/code: the train step's default spec and table are its files."""
    with tarfile.open(fileobj=io.BytesIO(build_bundle(SPEC)), mode="r:gz") as archive:
        archive.extractall(tmp_path, filter="data")
    purelib = sysconfig.get_paths()["purelib"]
    script = (
        f"import sys; sys.path[:0] = ['', {purelib!r}]; from sagemaker_code.steps import train; "
        "args, hp = train.parse_args([], {}); print(args.spec); print(args.hyperparameter_table)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    spec, table = result.stdout.split()
    assert Path(spec) == tmp_path / contract.SPEC_FILE
    assert Path(table) == tmp_path / contract.HYPERPARAMETER_TABLE
