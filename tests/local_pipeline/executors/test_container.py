"""The container stand-in: container paths mapped into the step folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_pipeline.errors import StepError
from local_pipeline.executors.container import local_path, rewrite_container_paths, step_root
from sagemaker_code.steps.contract import CODE_DIR, MODEL_DIR, processing_output, training_channel


def test_container_paths() -> None:
    root = Path("/w/steps/A")
    assert rewrite_container_paths("tar -xzf /opt/ml/processing/input/code/* -C /opt/ml/code", root) == (
        "tar -xzf /w/steps/A/opt/ml/processing/input/code/* -C /w/steps/A/opt/ml/code"
    )
    assert rewrite_container_paths("/opt/ml", root) == "/w/steps/A/opt/ml"
    assert rewrite_container_paths("/x/opt/ml/y /opt/mlx", root) == "/x/opt/ml/y /opt/mlx"


def test_the_contract_s_container_paths_map_into_the_step_folder(tmp_path: Path) -> None:
    """Every path the definition and the steps share lands in the step folder; anything else is refused."""
    root = step_root(tmp_path / "ws", "Train")
    assert root == tmp_path / "ws" / "steps" / "Train"
    for container_path in (MODEL_DIR, CODE_DIR, training_channel("train"), processing_output("gates")):
        assert local_path(root, container_path) == root / container_path.lstrip("/")
        assert rewrite_container_paths(container_path, root) == str(local_path(root, container_path))
    with pytest.raises(StepError, match="'/srv/data' is not under /opt/ml"):
        local_path(root, "/srv/data")
    with pytest.raises(StepError, match="is not under /opt/ml"):
        local_path(root, "/opt/mlx/y")


def test_a_step_folder_starts_empty_and_must_be_safe_on_a_command_line(tmp_path: Path) -> None:
    root = step_root(tmp_path / "ws", "Prep")
    (local_path(root, MODEL_DIR)).mkdir(parents=True)
    assert [p.name for p in step_root(tmp_path / "ws", "Prep").rglob("*")] == ["opt", "ml"]
    with pytest.raises(StepError, match="cannot take unquoted"):
        step_root(tmp_path / "my workspace", "Prep")
