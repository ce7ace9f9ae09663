"""The orchestrator: a whole run of a tiny definition, through every executor, in dependency order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import OUT_ROOT, gated_definition, run


def test_processing_condition_and_registration(tmp_path: Path, s3: LocalS3) -> None:
    result = run(gated_definition(), s3, tmp_path / "run1")
    assert result.status == "Succeeded", result.summary()
    assert [(r.name, r.status) for r in result.steps] == [
        ("Emit", "Succeeded"),
        ("Gate", "Succeeded"),
        ("Register", "Succeeded"),
    ]
    assert result.not_executed == ("GateFailed",)
    (gate,) = result.gates
    assert (gate.step, gate.outcome, gate.branch, gate.conditions[0].values) == ("Gate", True, "IfSteps", (0.8, 0.5))
    # The step ran the container command for real: inputs with their paths, /opt/ml rewritten, this interpreter.
    report = json.loads(s3.get(f"{OUT_ROOT}/{result.execution_id}/Emit/metrics/metrics.json").read_text())
    assert report["files"] == ["a.csv", "sub/b.csv"]
    assert report["python"] == sys.executable
    assert report["step_env"] == str(result.workspace / "steps" / "Emit" / "opt/ml/processing/input/data")
    assert "emitted 0.8" in (result.workspace / "logs" / "Emit.log").read_text()
    # The registry entry: version, status, resolved spec and metadata, each report's URI, local path and content.
    assert result.registered is not None
    assert (result.registered.group, result.registered.version) == ("tiny-models", 1)
    package = json.loads(result.registered.path.read_text())
    assert result.registered.path == tmp_path / "registry" / "tiny-models" / "version-0001.json"
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["PipelineExecutionId"] == result.execution_id
    assert package["CustomerMetadataProperties"] == {"score": "0.8", "execution": result.execution_id}
    (container,) = package["InferenceSpecification"]["Containers"]
    assert Path(container["ModelDataLocalPath"]).is_file()
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == container["ModelDataUrl"]
    assert Path(statistics["LocalPath"]).is_file()
    assert statistics["Content"]["quality"]["score"]["value"] == 0.8
    assert result.metrics is None  # no property file named Evaluation
    assert "Registered tiny-models version 1 (PendingManualApproval)" in result.summary()
