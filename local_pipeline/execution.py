"""The execution record: what one run knows while it runs (:class:`Execution`) and what it reports (:class:`RunResult`).

Executors read and extend the :class:`Execution` (the scope the next expressions read, the gate decisions, the
registered package); the orchestrator (:mod:`local_pipeline.runner`) turns it into a :class:`RunResult` at the end.
Identifiers follow SageMaker's shapes with a local account and region, so that a step property or an execution
variable that ends up in a name or a registry entry looks like the one the cloud would give.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from local_pipeline import summary
from local_pipeline.conditions import ConditionOutcome
from local_pipeline.expressions import Json, Scope
from local_pipeline.registry import LocalModelRegistry
from local_pipeline.s3 import LocalS3

#: Stand-ins for the account and region of the ARNs the execution variables and step properties carry.
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"
SUCCEEDED, FAILED = "Succeeded", "Failed"


def arn(kind: str, name: str) -> str:
    """A SageMaker ARN of the local account and region (``processing-job/<name>``, ``pipeline/<name>/...``)."""
    return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}/{name}"


@dataclass(frozen=True)
class StepRecord:
    name: str
    type: str
    status: str
    seconds: float
    message: str = ""
    log: Path | None = None

    def line(self) -> str:
        return summary.step_line(self)


@dataclass(frozen=True)
class GateDecision:
    """A condition step's outcome: every condition (an AND) and the branch that ran."""

    step: str
    outcome: bool
    branch: str
    conditions: tuple[ConditionOutcome, ...]


@dataclass(frozen=True)
class RegisteredPackage:
    group: str
    version: int
    status: str
    path: Path


@dataclass(frozen=True)
class RunResult:
    """What one execution did: status, failure reason, step records, gates, metrics, the registered package."""

    execution_id: str
    pipeline_name: str
    status: str
    failure_reason: str | None
    steps: tuple[StepRecord, ...]
    gates: tuple[GateDecision, ...]
    not_executed: tuple[str, ...]
    metrics: Json | None
    gate_messages: tuple[tuple[str, str], ...]  # (gate, message) of a property file named Gates, if any
    registered: RegisteredPackage | None
    properties: Mapping[str, dict[str, Json]]
    workspace: Path
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"step {name} did not run (ran: {[record.name for record in self.steps]})")

    def summary(self) -> str:
        return summary.render(self)


@dataclass
class Execution:
    """One run in progress: where it works, the local S3 and registry, and what its steps produced so far."""

    execution_id: str
    pipeline_name: str
    workspace: Path
    s3: LocalS3
    registry: LocalModelRegistry
    scope: Scope
    bin_dir: Path  # python3/python that run this interpreter, first on the steps' PATH
    gates: list[GateDecision] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)  # condition step -> the branch it chose
    registered: RegisteredPackage | None = None

    def log(self, step: str) -> Path:
        return self.workspace / "logs" / f"{step}.log"

    def job_name(self, step: str) -> str:
        return re.sub(r"[^A-Za-z0-9-]", "-", f"pipelines-{self.execution_id}-{step}")[:63].rstrip("-")
