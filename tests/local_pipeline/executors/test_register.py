"""RegisterModel: the package's approval status is checked."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import gated_definition, run


def test_bad_approval_status_fails_the_register_step(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(), s3, tmp_path / "run", ApprovalStatus="Maybe")
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert "step Register (RegisterModel) failed: ModelApprovalStatus must be one of" in result.failure_reason
