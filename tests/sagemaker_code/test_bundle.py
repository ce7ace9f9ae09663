"""The step-code bundle is reproducible and holds exactly what the containers need."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from sagemaker_code.bundle import EXCLUDED_MODULES, SPEC_FILE_NAME, build_bundle, write_bundle

SPEC = {"name": "t", "columns": []}


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return archive.getnames()


def test_bundle_is_byte_for_byte_reproducible() -> None:
    assert build_bundle(SPEC) == build_bundle(SPEC)


def test_bundle_changes_with_the_spec() -> None:
    assert build_bundle(SPEC) != build_bundle({**SPEC, "name": "u"})


def test_bundle_holds_step_modules_spec_and_launcher_but_no_synth_code() -> None:
    content = names(build_bundle(SPEC))
    assert SPEC_FILE_NAME in content
    assert "train.py" in content  # the training launcher at the root
    for step in ("preprocess", "train", "evaluate", "bias", "inference", "spec", "transform"):
        assert f"sagemaker_code/{step}.py" in content
    for module in EXCLUDED_MODULES:
        assert f"sagemaker_code/{module}.py" not in content
    assert content == sorted(content[:-2]) + content[-2:]  # package files sorted, then spec and launcher


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


def test_launcher_runs_the_training_module(tmp_path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(build_bundle(SPEC)), mode="r:gz") as archive:
        launcher = archive.extractfile("train.py")
        assert launcher is not None
        assert launcher.read().decode() == "from sagemaker_code.train import main\n\nraise SystemExit(main())\n"
