"""Training: script mode with the toolkit's variables, and model.tar.gz where the next step reads it."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import OUT_ROOT, run, training_definition


def test_training_runs_script_mode_and_publishes_model_tar_gz(tmp_path: Path, s3: LocalS3) -> None:
    result = run(training_definition(), s3, tmp_path / "run", Rounds="6")
    assert result.status == "Succeeded", result.summary()
    assert [r.name for r in result.steps] == ["Train", "UseModel"]
    job = result.properties["Train"]["TrainingJobName"]
    model_uri = result.properties["Train"]["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://out-bucket/models/{job}/output/model.tar.gz"
    with tarfile.open(s3.get(model_uri), "r:gz") as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        report = json.loads(member.read())
    assert report["argv"] == ["--eta", "0.1", "--max_depth", "6", "--objective", "binary:logistic"]
    assert report["hps"] == {"eta": 0.1, "max_depth": 6, "objective": "binary:logistic"}
    assert (report["channels"], report["train_files"], report["hp_max_depth"]) == (["train"], ["a.csv", "sub"], "6")
    assert int(report["num_cpus"]) >= 1
    used = json.loads(s3.get(f"{OUT_ROOT}/{result.execution_id}/UseModel/metrics/metrics.json").read_text())
    assert used["files"] == ["model.tar.gz"]


def test_training_without_script_mode_hyperparameters_fails(tmp_path: Path, s3: LocalS3) -> None:
    definition = training_definition()
    del definition["Steps"][1]["Arguments"]["HyperParameters"]["sagemaker_program"]
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Train (Training) failed" in result.failure_reason
    assert "['sagemaker_program']" in result.failure_reason
