"""`make clean` removes build outputs and caches, never the local runs: the run history, the local S3 the registered
models point into and the local model registry stay (issue 9: it used to delete the registry)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

RUNS = (
    ".local-pipeline/registry/mlops-dev-models/version-0001.json",
    ".local-pipeline/executions/20261201t120000-abcdef/logs/Train.log",
    ".local-pipeline/s3/mlops-dev-artifacts/runs/model.tar.gz",
)
OUTPUTS = ("cdk.out/manifest.json", ".build/pipeline-definitions/x.json", ".pytest_cache/v", ".mypy_cache/x")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_the_local_runs(tmp_path: Path) -> None:
    for name in (*RUNS, *OUTPUTS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(tmp_path), "-f", str(REPO_ROOT / "Makefile"), "clean"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [name for name in RUNS if not (tmp_path / name).is_file()] == []
    assert [name for name in OUTPUTS if (tmp_path / name).exists()] == []
    assert "kept .local-pipeline/ (local runs and the local model registry): rm -rf .local-pipeline" in result.stdout
