"""Processing: a failing container command fails the step with its name and the log's last lines."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import gated_definition, processing_step, run


def test_failing_step_reports_step_name_and_log_tail(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    definition["Steps"].append(processing_step("Broken", "sagemaker_code.fail", inputs=[]))
    definition["Steps"][0]["DependsOn"] = ["Broken"]  # the gate waits for it
    result = run(definition, s3, tmp_path / "run")
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("step Broken (Processing) failed: exited with status 3")
    assert "boom: the input is bad" in result.failure_reason
    assert result.step("Broken").log == result.workspace / "logs" / "Broken.log"
    assert {"Gate", "Register"} <= set(result.not_executed)
