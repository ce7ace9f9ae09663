"""Fixtures of the runner's tests: the tiny step code as a bundle in the local S3, next to a small input dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import CODE_URI, DATA_URI, STEP_FILES, write_tar


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "bundle" / "sourcedir.tar.gz", STEP_FILES)


@pytest.fixture
def s3(tmp_path: Path, bundle: Path) -> LocalS3:
    local = LocalS3(tmp_path / "s3", {CODE_URI: bundle})
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / "sub" / "b.csv").write_text("3,4\n")
    local.seed(DATA_URI, data)
    return local
