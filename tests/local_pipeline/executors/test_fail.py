"""Fail: ends the run with its resolved message."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import gated_definition, run


def test_else_branch_fail_step_ends_the_run_with_its_resolved_message(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(score="0.3"), s3, tmp_path / "run")
    assert result.status == "Failed"
    assert result.failure_reason == "score 0.3 is below 0.5"
    assert result.step("GateFailed").status == "Failed"
    assert result.registered is None
    assert "Register" in result.not_executed
    assert result.gates[0].branch == "ElseSteps"
