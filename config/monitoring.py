"""Monitoring settings of a serving environment: the scheduled drift/quality/bias job, its alarms, retraining.

Schema only. SageMaker Model Monitor is closed to new customers, so the platform runs its own monitoring job (a
SageMaker Pipeline with one processing step, see ``sagemaker_code/steps/monitor.py``) over the endpoint's captured
data. It needs data capture: an environment with ``monitoring`` must serve on instances with ``data_capture`` on
(SageMaker captures nothing from serverless endpoints); the checks are in ``config.model``.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from config.base import StrictModel
from config.serving import PREFIX_RE, SCHEDULE_RE, InstanceEndpoint, ServingSettings

FINITE = ConfigDict(allow_inf_nan=False)
#: The data bucket prefix the training jobs read when model_build.input_data_prefix is not set.
DATASETS_PREFIX = "datasets/"


def _check_schedule(value: str, key: str) -> None:
    if not SCHEDULE_RE.fullmatch(value):
        raise ValueError(
            f"{key} {value!r} is not an EventBridge schedule expression: use rate(<n> <unit>) (e.g. rate(1 day)) or "
            "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) (e.g. cron(30 0 * * ? *)), UTC"
        )


class DriftThresholds(StrictModel):
    """When the monitoring job calls a feature or the predictions drifted, and the alarm thresholds on the rest."""

    model_config = FINITE

    psi: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description="A feature drifted when its population stability index (on the baseline's bins) is at least this "
        "(0.1: moderate, 0.2: significant shift, the usual reading).",
    )
    p_value: float = Field(
        default=0.001,
        gt=0,
        lt=1,
        description="... or when its two-sample test (KS for numbers, chi-square for categories) rejects equality at "
        "this significance. Small, because every feature is tested every window.",
    )
    max_missing_rate: float = Field(
        default=0.05, ge=0, le=1, description="Alarm: a feature missing in more than this share of rows."
    )
    max_schema_violation_rate: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Alarm: more than this share of rows with an unknown category, a number outside the baseline's "
        "range or an unreadable payload.",
    )
    prediction_psi: float = Field(
        default=0.2, gt=0, le=10, description="Alarm: PSI of the predicted probabilities vs the test split's."
    )


class QualityThresholds(StrictModel):
    """Model quality on the rows whose ground truth has arrived (see the README's ground-truth layout)."""

    model_config = FINITE

    min_auc: float | None = Field(
        default=None, gt=0, le=1, description="Alarm below this AUC. Omitted: model_build.auc_threshold."
    )
    max_expected_cost: float | None = Field(
        default=None,
        gt=0,
        description="Alarm above this mean cost per labelled prediction (the dataset spec's cost matrix). Omitted: "
        "no cost alarm.",
    )
    label_lookback_hours: int = Field(
        default=168,
        ge=1,
        le=2160,
        description="Labels arrive late: each run joins the labels written until the window's end with the "
        "predictions captured this many hours back.",
    )


class BiasBounds(StrictModel):
    """Disparate impact bounds on live predictions. Omitted: the training gate's model_build.disparate_impact."""

    model_config = FINITE

    lower: float = Field(gt=0, le=1, description="Alarm when a facet's DI is below this.")
    upper: float = Field(ge=1, description="Alarm when a facet's DI is above this.")


class Retraining(StrictModel):
    """Retraining of the registry's pipeline on the drift, quality and bias alarms, with guardrails."""

    cooldown_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        description="No new retraining within this many hours of the last one this environment started.",
    )
    max_per_day: int = Field(default=1, ge=1, le=24, description="At most this many retrainings a day (UTC).")
    schedule: str | None = Field(
        default=None,
        description="Also retrain on this schedule (EventBridge expression, UTC), through the same guardrails. "
        "Omitted: on alarms only.",
    )
    training_data_prefix: str | None = Field(
        default=None,
        description="S3 key prefix in the registry's data bucket to train on (fresh data, ends with '/'). "
        "Omitted: model_build.input_data_prefix, which must then be set (the shipped sample is not fresh data).",
    )

    @model_validator(mode="after")
    def _valid(self) -> Retraining:
        if self.schedule is not None:
            _check_schedule(self.schedule, "schedule")
        prefix = self.training_data_prefix
        if prefix is not None and not PREFIX_RE.fullmatch(prefix):
            raise ValueError(
                f"training_data_prefix {prefix!r} must be an S3 key prefix ending with '/' (e.g. datasets/fresh/): no "
                "leading '/', no empty segment"
            )
        return self


class MonitoringSettings(StrictModel):
    """The scheduled monitoring job of an environment's endpoint, its alarms and retraining (the endpoint's health
    alarms and the topic's subscribers are ``serving.alarms``, for every serving environment)."""

    schedule: str = Field(
        default="cron(15 * * * ? *)",
        description="When the monitoring job runs (EventBridge expression, UTC). Each run looks at the window_hours "
        "before its scheduled time.",
    )
    window_hours: int = Field(
        default=24, ge=1, le=168, description="Hours of captured traffic each run compares with the baseline."
    )
    min_rows: int = Field(
        default=200,
        ge=10,
        le=1_000_000,
        description="Fewer captured (or labelled) rows than this in a window is reported as insufficient data, "
        "never as drift: the statistics would be noise.",
    )
    drift: DriftThresholds = Field(default_factory=DriftThresholds, description="Drift thresholds.")
    quality: QualityThresholds = Field(default_factory=QualityThresholds, description="Quality thresholds.")
    bias: BiasBounds | None = Field(default=None, description="DI bounds. Omitted: model_build.disparate_impact.")
    retraining: Retraining | None = Field(
        default=None, description="Retrain on drift, quality and bias alarms. Omitted: alarms only notify."
    )

    @model_validator(mode="after")
    def _valid(self) -> MonitoringSettings:
        _check_schedule(self.schedule, "schedule")
        return self


def monitoring_problems(
    key: str, monitoring: MonitoringSettings | None, serving: ServingSettings | None, input_data_prefix: str | None
) -> list[str]:
    """What makes ``environments.<env>.monitoring`` (``key``) impossible: nothing to monitor without an endpoint that
    captures data, and no fresh data to retrain on."""
    if monitoring is None:
        return []
    problems = []
    if serving is None:
        problems.append(f"{key}: the environment has no serving section, so no endpoint to monitor")
    elif not isinstance(serving.endpoint, InstanceEndpoint):
        problems.append(
            f"{key}: the endpoint is serverless and SageMaker captures no data of serverless endpoints, so there is "
            "nothing to monitor: use serving.endpoint.type: instances with data_capture, or remove monitoring"
        )
    elif serving.endpoint.data_capture is None:
        problems.append(f"{key}: serving.endpoint.data_capture is off, so there is nothing to monitor: turn it on")
    retraining = monitoring.retraining
    readable = input_data_prefix or DATASETS_PREFIX
    fresh = retraining.training_data_prefix if retraining is not None else None
    if fresh is not None and not fresh.startswith(readable):
        problems.append(
            f"{key}.retraining.training_data_prefix: {fresh!r} is outside {readable!r}, the data bucket prefix the "
            "training jobs may read (model_build.input_data_prefix, or datasets/ without it): put fresh data under it"
        )
    if retraining is not None and retraining.training_data_prefix is None and input_data_prefix is None:
        problems.append(
            f"{key}.retraining.training_data_prefix: not set, and model_build.input_data_prefix is not set either: "
            "retraining would train on the shipped sample again, not on fresh data; name the data bucket prefix "
            "where fresh training data lands"
        )
    return problems


def unmonitored_reason(serving: ServingSettings | None, monitoring: MonitoringSettings | None) -> str | None:
    """Why a serving environment is not monitored (the app prints it at synth), None when it is or serves nothing."""
    if serving is None or monitoring is not None:
        return None
    if not isinstance(serving.endpoint, InstanceEndpoint):
        return "its endpoint is serverless (SageMaker captures no data of serverless endpoints)"
    if serving.endpoint.data_capture is None:
        return "serving.endpoint.data_capture is off"
    return "it has no monitoring section"
