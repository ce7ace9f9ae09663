"""One invocation of the Train tool against the fake SageMaker, a test cloud assembly, a fake clock and sleep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tools.assemblies import write_assembly
from tests.tools.fake_sagemaker import FakeSageMaker
from tools.cloud_assembly import TrainTarget
from tools.run_sagemaker_pipeline import main

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "f" * 64
GATE_STEP = {
    "StepName": "QualityGateFailed",
    "StepStatus": "Failed",
    "FailureReason": "Quality gate failed: test AUC 0.71 is below the threshold 0.75",
    "Metadata": {"Fail": {"ErrorMessage": "Quality gate failed: test AUC 0.71 is below the threshold 0.75"}},
}
TRAIN_STEP = {
    "StepName": "Train",
    "StepStatus": "Failed",
    "FailureReason": "ClientError: instance ml.m5.xlarge is not available",
    "Metadata": {"TrainingJob": {"Arn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/t"}},
}


class Run:
    """One invocation of the tool against a fake SageMaker, with a fake clock and sleep."""

    def __init__(self, tmp_path: Path, fake: FakeSageMaker, *, stack_outputs: dict[str, Any] | None = None) -> None:
        self.root = write_assembly(tmp_path / "cdk.out", stack_outputs)
        self.fake = fake
        self.targets: list[TrainTarget] = []
        self.now = 0.0
        self.sleeps: list[float] = []

    def _factory(self, target: TrainTarget) -> Any:
        self.targets.append(target)
        return self.fake

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self, *extra: str) -> int:
        argv = ["--cloud-assembly", str(self.root), "--stage", "dev", "--commit", COMMIT, "--poll-seconds", "60"]
        return main([*argv, *extra], client_factory=self._factory, sleep=self._sleep, clock=lambda: self.now)


def started(fake: FakeSageMaker) -> list[dict[str, Any]]:
    return fake.requests("start_pipeline_execution")
