"""Condition: the branch follows the conditions; a condition that cannot be evaluated fails the step."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import gated_definition, json_get, run


def test_parameter_override_changes_the_branch(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(score="0.8"), s3, tmp_path / "run", Threshold="0.95")
    assert result.failure_reason == "score 0.8 is below 0.95"


def test_missing_property_file_value_fails_the_condition_step(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    definition["Steps"][0]["Arguments"]["Conditions"][0]["LeftValue"] = json_get("Emit", "Metrics", "quality.auc.value")
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Gate (Condition) failed" in result.failure_reason
    assert "property file Metrics of step Emit has no value at 'quality.auc.value'" in result.failure_reason
