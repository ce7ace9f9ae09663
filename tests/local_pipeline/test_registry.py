"""The local model registry: versions count up across runs and are never overwritten."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.registry import LocalModelRegistry
from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import gated_definition, run


def test_registry_versions_increase_across_runs(tmp_path: Path, s3: LocalS3) -> None:
    first = run(gated_definition(), s3, tmp_path / "run1")
    second = run(gated_definition(), s3, tmp_path / "run2", ApprovalStatus="Approved")
    assert first.registered is not None
    assert second.registered is not None
    assert (first.registered.version, second.registered.version) == (1, 2)
    registry = LocalModelRegistry(tmp_path / "registry")
    assert registry.versions("tiny-models") == [1, 2]
    assert registry.load("tiny-models", 2)["ModelApprovalStatus"] == "Approved"
