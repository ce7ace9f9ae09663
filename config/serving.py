"""Serving settings of an environment: where its models come from, its endpoint, the checks before it goes live.

Schema only. An environment with a ``serving`` section gets an endpoint that the deploy flow fills with the model
package version an approval names; environments without one serve nothing. What SageMaker does not support on a
serverless endpoint (data capture, instance autoscaling, canary/linear traffic shifting) is refused with that reason,
not silently ignored.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from config.base import StrictModel
from config.delivery import Email
from config.model_build import InferenceInstanceType

#: The memory sizes a serverless endpoint may have (SageMaker: 1 GB steps from 1 to 6 GB).
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
#: Keys of an instance endpoint that a serverless endpoint cannot have, and why (SageMaker documentation,
#: "Serverless Inference" feature exclusions and "Deployment guardrails" exclusions).
NOT_SERVERLESS = {
    "instance_type": "a serverless endpoint has no instances; it is sized by memory_mb",
    "instance_count": "a serverless endpoint has no instances; it scales with max_concurrency",
    "autoscaling": "a serverless endpoint scales by itself up to max_concurrency (no Application Auto Scaling target)",
    "data_capture": "SageMaker does not capture data of serverless endpoints, so they cannot be monitored",
    "deployment": "a serverless endpoint is updated blue/green all at once (no canary or linear traffic shifting, no "
    "alarm-based rollback in this platform)",
}
FINITE = ConfigDict(allow_inf_nan=False)
#: SageMaker's bounds of a blue/green deployment (API reference: BlueGreenUpdatePolicy, TrafficRoutingConfig): each
#: wait and the final bake at most an hour, the whole deployment 10 minutes to 8 hours.
MAX_WAIT_SECONDS = 3600
MIN_DEPLOYMENT_SECONDS, MAX_DEPLOYMENT_SECONDS = 600, 28_800
#: Time the deployment may take beyond its waits: provisioning the new (green) fleet and shifting traffic. Instances
#: of the XGBoost container take ~5-10 minutes to come up; 30 minutes leaves room for slow capacity.
PROVISIONING_SECONDS = 1800
#: SageMaker's bound of a linear step (TrafficRoutingConfig.LinearStepSize: 10-50% of the fleet).
MIN_LINEAR_STEP_PERCENT = 10
#: Canary and linear move at most 50% of the fleet per step, and a step is at least one instance.
MIN_GRADUAL_INSTANCES = 2


class AutoScaling(StrictModel):
    """Application Auto Scaling of the endpoint's instance count (target tracking)."""

    min_instances: int = Field(
        default=2, ge=1, le=100, description="Fewest instances (canary and linear deployments need 2)."
    )
    max_instances: int = Field(default=4, ge=1, le=100, description="Most instances.")
    invocations_per_instance: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute).",
    )

    @model_validator(mode="after")
    def _order(self) -> AutoScaling:
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) must be at least min_instances ({self.min_instances})"
            )
        return self


class DataCapture(StrictModel):
    """Capture of requests and responses into the environment's capture bucket (KMS, with an inference id)."""

    model_config = FINITE

    sampling_percentage: int = Field(default=100, ge=1, le=100, description="Share of requests captured, in %.")


class Deployment(StrictModel):
    """Blue/green deployment guardrails of an instance endpoint: traffic shifting, baking, alarm rollback."""

    traffic: Literal["canary", "linear", "all_at_once"] = Field(
        default="canary",
        description="canary: step_percent of the capacity first, then the rest; linear: step_percent at a time; "
        "all_at_once: everything at once.",
    )
    step_percent: int = Field(
        default=10, ge=1, le=50, description="Capacity shifted by the canary, or by each linear step, in %."
    )
    wait_minutes: int = Field(
        default=5, ge=1, le=MAX_WAIT_SECONDS // 60, description="Wait (baking) after each traffic-shifting step."
    )
    bake_minutes: int = Field(
        default=10,
        ge=0,
        le=MAX_WAIT_SECONDS // 60,
        description="Final baking period after all traffic shifted; the alarms (5XX, model latency p99) roll back "
        "during every wait and the bake.",
    )
    max_latency_p99_ms: int = Field(
        default=1000, ge=1, le=60_000, description="Rollback alarm: model latency p99 above this, in ms."
    )
    max_5xx_errors: int = Field(default=0, ge=0, description="Rollback alarm: more 5XX errors than this a minute.")

    @property
    def shifts(self) -> int:
        """How many times traffic moves: canary twice (canary, then the rest), linear once per step."""
        return {"all_at_once": 1, "canary": 2, "linear": math.ceil(100 / self.step_percent)}[self.traffic]

    @property
    def timeout_seconds(self) -> int:
        """MaximumExecutionTimeoutInSeconds: every wait, the final bake and the provisioning of the new fleet (SageMaker
        requires it to exceed the waits)."""
        waits = self.shifts * self.wait_minutes * 60 + self.bake_minutes * 60
        return max(MIN_DEPLOYMENT_SECONDS, waits + PROVISIONING_SECONDS)

    @model_validator(mode="after")
    def _fits_sagemaker(self) -> Deployment:
        if self.traffic == "linear" and self.step_percent < MIN_LINEAR_STEP_PERCENT:
            raise ValueError(
                f"step_percent ({self.step_percent}) must be at least {MIN_LINEAR_STEP_PERCENT} with traffic linear "
                "(SageMaker shifts 10-50% of the fleet per linear step)"
            )
        if self.timeout_seconds > MAX_DEPLOYMENT_SECONDS:
            raise ValueError(
                f"a {self.traffic} deployment of {self.shifts} step(s) of wait_minutes {self.wait_minutes}, then "
                f"bake_minutes {self.bake_minutes}, would take up to {self.timeout_seconds // 60} minutes with "
                f"provisioning; SageMaker stops a deployment after {MAX_DEPLOYMENT_SECONDS // 60}: shorten the waits "
                "or use larger steps"
            )
        return self


class ServerlessEndpoint(StrictModel):
    """A serverless endpoint: no cost when idle, cold starts, no data capture."""

    type: Literal["serverless"] = Field(description="A serverless endpoint.")
    memory_mb: int = Field(default=2048, description="Memory: 1024, 2048, 3072, 4096, 5120 or 6144 MB.")
    max_concurrency: int = Field(default=5, ge=1, le=200, description="Most concurrent invocations.")

    @model_validator(mode="before")
    @classmethod
    def _not_serverless(cls, data: Any) -> Any:
        if isinstance(data, dict):
            problems = [f"{key}: {why}" for key, why in NOT_SERVERLESS.items() if key in data]
            if problems:
                raise ValueError(
                    "not available on a serverless endpoint: " + "; ".join(problems) + " (use type: instances)"
                )
        return data

    @model_validator(mode="after")
    def _memory(self) -> ServerlessEndpoint:
        if self.memory_mb not in SERVERLESS_MEMORY_MB:
            raise ValueError(f"memory_mb must be one of {list(SERVERLESS_MEMORY_MB)}, got {self.memory_mb}")
        return self


class InstanceEndpoint(StrictModel):
    """A real-time endpoint on instances: data capture, autoscaling, guarded blue/green deployments."""

    type: Literal["instances"] = Field(description="A real-time endpoint on instances.")
    instance_type: InferenceInstanceType = Field(default="ml.m5.large", description="Instance type.")
    instance_count: int = Field(
        default=2,
        ge=1,
        le=100,
        description="Instances at deployment (autoscaling moves it within its bounds). Canary and linear deployments "
        "need 2; SageMaker spreads 2 instances over availability zones.",
    )
    autoscaling: AutoScaling | None = Field(default=None, description="Omitted: a fixed instance count.")
    data_capture: DataCapture | None = Field(
        default_factory=DataCapture, description="Data capture; null turns it off (then nothing is monitored)."
    )
    deployment: Deployment = Field(default_factory=Deployment, description="Deployment guardrails.")

    @model_validator(mode="after")
    def _count_in_bounds(self) -> InstanceEndpoint:
        scaling = self.autoscaling
        if scaling is not None and not scaling.min_instances <= self.instance_count <= scaling.max_instances:
            raise ValueError(
                f"instance_count ({self.instance_count}) must be within autoscaling's [{scaling.min_instances}, "
                f"{scaling.max_instances}]"
            )
        return self

    @model_validator(mode="after")
    def _fleet_can_shift_gradually(self) -> InstanceEndpoint:
        """Canary and linear shift part of the fleet: SageMaker allows at most 50% of it per step, and the smallest
        step is one instance, so the fleet needs two instances at any time (autoscaling may shrink it to its min)."""
        if self.deployment.traffic == "all_at_once":
            return self
        fewest = self.autoscaling.min_instances if self.autoscaling is not None else self.instance_count
        if fewest < MIN_GRADUAL_INSTANCES:
            where = "autoscaling.min_instances" if self.autoscaling is not None else "instance_count"
            raise ValueError(
                f"deployment.traffic {self.deployment.traffic} needs at least {MIN_GRADUAL_INSTANCES} instances, "
                f"{where} is {fewest}: "
                "SageMaker shifts at most 50% of the fleet per step and a step is at least one instance (use "
                "traffic: all_at_once for a single instance)"
            )
        return self


Endpoint = Annotated[ServerlessEndpoint | InstanceEndpoint, Field(discriminator="type")]


class SmokeTest(StrictModel):
    """The checks a freshly deployed endpoint must pass before it takes the next step."""

    rows: int = Field(default=20, ge=1, le=1000, description="Rows of the model's held-out test split sent.")
    max_latency_p95_ms: int = Field(
        default=1000, ge=1, le=60_000, description="Highest allowed p95 latency of those requests, in ms."
    )


#: EventBridge schedule expressions: rate(1 minute|hour|day), rate(<n> minutes|hours|days) for n > 1 (EventBridge
#: wants the singular for 1 and the plural otherwise), or cron(<6 fields>) (the fields themselves are not checked).
SCHEDULE_RE = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)|cron\(\S+( \S+){5}\))$"
)
#: An S3 key prefix: no leading '/', ends with '/', no empty segment.
PREFIX_RE = re.compile(r"^([A-Za-z0-9!_.*'()=-]+/)+$")


class BatchScoring(StrictModel):
    """A scheduled batch transform of the live model over the data bucket's ``input_prefix``.

    Input files are CSV **without a header row** (SageMaker's batch transform splits files into lines and does not
    skip headers), the id column first, then the model's feature columns in the dataset spec's order. Nothing else
    about the files is checked before the job runs: a bad row fails the job, which SageMaker reports.
    """

    schedule: str = Field(
        description="EventBridge schedule expression: rate(1 day), rate(6 hours), cron(0 2 * * ? *) (UTC)."
    )
    input_prefix: str = Field(
        description="S3 key prefix in the environment's data bucket of the CSV files to score (ends with '/'): no "
        "header row, the id column first, then the feature columns in the dataset spec's order."
    )
    output_prefix: str = Field(
        description="S3 key prefix in the data bucket for the predictions (ends with '/'); each run writes under "
        "<output_prefix><run time>/ one <file>.out per input file: id,probability,label lines."
    )
    id_column: str = Field(
        default="id",
        min_length=1,
        max_length=64,
        description="Name of the id column, the first column of the input files. Documents the layout only: the "
        "job keeps the first column whatever its name.",
    )
    instance_type: InferenceInstanceType = Field(
        default="ml.m5.large",
        description="Instance type of the job: one of model_build.inference_instance_types (the model packages are "
        "registered with those as their transform instance types).",
    )
    instance_count: int = Field(default=1, ge=1, le=100, description="Instances of the job.")

    @model_validator(mode="after")
    def _valid(self) -> BatchScoring:
        if not SCHEDULE_RE.fullmatch(self.schedule):
            raise ValueError(
                f"schedule {self.schedule!r} is not an EventBridge schedule expression: use rate(<n> <unit>) (e.g. "
                "rate(1 day), rate(6 hours)) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) "
                "(e.g. cron(0 2 * * ? *))"
            )
        for key in ("input_prefix", "output_prefix"):
            value = getattr(self, key)
            if not PREFIX_RE.fullmatch(value):
                raise ValueError(
                    f"{key} {value!r} must be an S3 key prefix ending with '/' (e.g. batch/input/): no leading '/', "
                    "no empty segment, letters, digits and !_.*'()=- only"
                )
        a, b = self.input_prefix, self.output_prefix
        if a.startswith(b) or b.startswith(a):
            raise ValueError(
                f"input_prefix {a!r} and output_prefix {b!r} overlap: the next run would score its own predictions"
            )
        return self


class EndpointAlarms(StrictModel):
    """Health alarms of the endpoint (every serving environment), and who hears them and the monitoring ones."""

    max_5xx_errors: int = Field(default=0, ge=0, description="Alarm on more 5XX errors than this in 5 minutes.")
    max_latency_p99_ms: int = Field(
        default=1000, ge=1, le=600_000, description="Alarm on a model latency p99 above this over 15 minutes."
    )
    no_invocations_hours: int | None = Field(
        default=None,
        ge=1,
        le=168,
        description="Alarm when the endpoint got no request for this many hours. Omitted: no such alarm.",
    )
    notification_emails: list[Email] = Field(
        default_factory=list,
        description="E-mail subscriptions of the environment's monitoring topic (these alarms, the monitoring job's, "
        "retraining decisions).",
    )


class ServingSettings(StrictModel):
    """What an environment serves and how a model goes live there."""

    registry: str | None = Field(
        default=None,
        description="The environment whose model package group this one deploys from (its trained models). Omitted: "
        "this environment's own group.",
    )
    endpoint: Endpoint = Field(description="The endpoint: type serverless or instances, with their settings.")
    smoke_test: SmokeTest = Field(default_factory=SmokeTest, description="Checks after each deployment.")
    require_approval: bool = Field(
        default=False,
        description="A person approves before a model goes live here (after the previous environment's smoke test).",
    )
    alarms: EndpointAlarms = Field(
        default_factory=EndpointAlarms, description="Endpoint health alarms and the monitoring topic's subscribers."
    )
    batch: BatchScoring | None = Field(
        default=None,
        description="Scheduled batch scoring of the data bucket's input_prefix with the live model. Omitted: none.",
    )
