"""Image emulators: which images run locally, and the message when one cannot."""

from __future__ import annotations

from pathlib import Path

from local_pipeline.executors.images import image_repository
from local_pipeline.s3 import LocalS3
from tests.local_pipeline.definitions import CLARIFY_IMAGE, XGBOOST_IMAGE, gated_definition, processing_step, run


def test_image_without_an_emulator_stops_the_run_naming_step_and_image(tmp_path: Path, s3: LocalS3) -> None:
    definition = gated_definition()
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-custom-image:latest"
    definition["Steps"][1]["Arguments"]["AppSpecification"]["ImageUri"] = image
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(f"step Emit (Processing) failed: cannot run image {image} locally")


def test_xgboost_image_without_an_entrypoint_is_not_runnable(tmp_path: Path, s3: LocalS3) -> None:
    definition = {"Parameters": [], "Steps": [processing_step("Serve", None)]}
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert "step Serve (Processing) failed: image" in result.failure_reason
    assert "without a ContainerEntrypoint" in result.failure_reason


def test_the_clarify_image_is_not_emulated(tmp_path: Path, s3: LocalS3) -> None:
    """The pipeline no longer runs Clarify (closed to new customers); a definition that does cannot run here."""
    definition = {"Parameters": [], "Steps": [processing_step("BiasCheck", None, image=CLARIFY_IMAGE)]}
    result = run(definition, s3, tmp_path / "run")
    assert result.failure_reason is not None
    assert result.failure_reason.startswith(
        f"step BiasCheck (Processing) failed: cannot run image {CLARIFY_IMAGE} locally for processing (the runner "
        "emulates processing with the images of sagemaker-xgboost)"
    )


def test_image_names() -> None:
    assert image_repository(XGBOOST_IMAGE) == "sagemaker-xgboost"
    assert image_repository("1.dkr.ecr.r.amazonaws.com/team/img@sha256:ab") == "team/img"
