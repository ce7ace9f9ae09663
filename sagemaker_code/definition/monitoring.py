"""The monitoring pipeline's definition: one processing step running our own monitor over an endpoint's captured
data (SageMaker Model Monitor is closed to new customers), built with the SageMaker SDK at synth, offline.

Like the model-build pipeline it runs the step code bundle in the XGBoost framework image (numpy, pandas, scipy and
boto3 are all the monitor uses: nothing is installed at job start), and the local runner executes this very
definition. Parameters are the per-run knobs: ``WindowEnd`` (the schedule passes its scheduled time, so a retried run
looks at the same window; empty = the job's start), the window and the thresholds (defaults from config, so a person
can re-run a window with other thresholds). The names CloudFormation owns (role, key, code) are the model-build
definition's :class:`~sagemaker_code.definition.settings.Sentinels`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from config.naming import (
    MONITORING_REPORT_PREFIX,
    bucket_name,
    capture_uri,
    endpoint_name,
    ground_truth_uri,
    live_model_parameter_name,
    monitoring_namespace,
    monitoring_pipeline_name,
)
from sagemaker_code.definition.settings import XGBOOST_IMAGE_VERSION, Sentinels
from sagemaker_code.steps import contract

if TYPE_CHECKING:
    from config.model import PlatformConfig

KIND = "monitoring"


@dataclass(frozen=True)
class MonitorPipelineSettings:
    """Everything the monitoring definition depends on (also its cache key)."""

    pipeline_name: str
    region: str
    environment: str
    endpoint_name: str
    live_model_parameter: str
    capture_uri: str
    ground_truth_uri: str
    report_uri: str
    namespace: str
    window_hours: int
    label_lookback_hours: int
    min_rows: int
    psi_threshold: float
    p_value: float
    di_lower: float
    di_upper: float
    processing_instance_type: str = "ml.m5.large"
    max_runtime_seconds: int = 3600
    sentinels: Sentinels = field(default_factory=Sentinels)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MonitorPipelineSettings:
        data = {k: v for k, v in raw.items() if k != "kind"}
        data["sentinels"] = Sentinels(**data["sentinels"])
        return cls(**data)


def build_monitoring(settings: MonitorPipelineSettings) -> str:
    """The definition JSON (with sentinels); the SDK records, nothing is sent to AWS."""
    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.processing import Processor
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    from sagemaker_code.definition.steps import processing_command, s3_processing_input, s3_processing_output

    s, sentinels = settings, settings.sentinels
    session = PipelineSession(
        boto_session=boto3.Session(region_name=s.region), default_bucket=sentinels.artifacts_bucket
    )
    parameters = {
        "WindowEnd": ParameterString("WindowEnd", default_value=""),
        "WindowHours": ParameterInteger("WindowHours", default_value=s.window_hours),
        "LabelLookbackHours": ParameterInteger("LabelLookbackHours", default_value=s.label_lookback_hours),
        "MinRows": ParameterInteger("MinRows", default_value=s.min_rows),
        "PsiThreshold": ParameterFloat("PsiThreshold", default_value=s.psi_threshold),
        "PValue": ParameterFloat("PValue", default_value=s.p_value),
        "DisparateImpactLower": ParameterFloat("DisparateImpactLower", default_value=s.di_lower),
        "DisparateImpactUpper": ParameterFloat("DisparateImpactUpper", default_value=s.di_upper),
        "ProcessingInstanceType": ParameterString("ProcessingInstanceType", default_value=s.processing_instance_type),
    }
    p = parameters
    processor = Processor(
        role=sentinels.job_role_arn,
        image_uri=image_uris.retrieve("xgboost", region=s.region, version=XGBOOST_IMAGE_VERSION),
        instance_count=1,
        instance_type=p["ProcessingInstanceType"],
        entrypoint=processing_command(contract.MONITOR_MODULE),
        volume_kms_key=sentinels.kms_key_arn,
        output_kms_key=sentinels.kms_key_arn,
        max_runtime_in_seconds=s.max_runtime_seconds,
        base_job_name="monitor",
        env={"AWS_DEFAULT_REGION": s.region},  # boto3 in the job: no region discovery
        sagemaker_session=session,
    )
    report_dir = contract.processing_output(contract.MONITOR_OUTPUT)
    code = s3_processing_input(contract.CODE_INPUT, sentinels.code_uri)
    report = s3_processing_output(
        contract.MONITOR_OUTPUT,
        Join(on="/", values=[s.report_uri.rstrip("/"), ExecutionVariables.PIPELINE_EXECUTION_ID]),
    )
    arguments = [
        *("--live-model-parameter", s.live_model_parameter),
        *("--capture-uri", s.capture_uri, "--ground-truth-uri", s.ground_truth_uri),
        *("--window-end", p["WindowEnd"], "--window-hours", p["WindowHours"].to_string()),
        *("--label-lookback-hours", p["LabelLookbackHours"].to_string(), "--min-rows", p["MinRows"].to_string()),
        *("--psi-threshold", p["PsiThreshold"].to_string(), "--p-value", p["PValue"].to_string()),
        *("--di-lower", p["DisparateImpactLower"].to_string(), "--di-upper", p["DisparateImpactUpper"].to_string()),
        *("--namespace", s.namespace, "--environment", s.environment, "--endpoint", s.endpoint_name),
        *("--spec", contract.SPEC_PATH, "--output", report_dir),
    ]
    step = ProcessingStep(
        name=contract.MONITOR_STEP,
        description=f"Drift, quality and bias of {s.endpoint_name}'s captured traffic against the live model's "
        "baseline; publishes CloudWatch metrics and a report",
        step_args=processor.run(inputs=[code], outputs=[report], arguments=arguments),
    )
    pipeline = Pipeline(
        name=s.pipeline_name, parameters=list(parameters.values()), steps=[step], sagemaker_session=session
    )
    return str(pipeline.definition())


def monitor_pipeline_settings(config: PlatformConfig, env_name: str, account: str) -> MonitorPipelineSettings | None:
    """The monitoring definition's settings of ``env_name`` (None when it is not monitored): pure config."""
    env = config.environments[env_name]
    monitoring = env.monitoring
    if monitoring is None:
        return None
    project, region = config.project.name, env.region
    bias = monitoring.bias or config.model_build.disparate_impact
    return MonitorPipelineSettings(
        pipeline_name=monitoring_pipeline_name(project, env_name),
        region=region,
        environment=env_name,
        endpoint_name=endpoint_name(project, env_name),
        live_model_parameter=live_model_parameter_name(project, env_name),
        capture_uri=capture_uri(project, env_name, account, region),
        ground_truth_uri=ground_truth_uri(project, env_name, account, region),
        report_uri=f"s3://{bucket_name(project, env_name, 'artifacts', account, region)}/{MONITORING_REPORT_PREFIX}/",
        namespace=monitoring_namespace(project),
        window_hours=monitoring.window_hours,
        label_lookback_hours=monitoring.quality.label_lookback_hours,
        min_rows=monitoring.min_rows,
        psi_threshold=monitoring.drift.psi,
        p_value=monitoring.drift.p_value,
        di_lower=bias.lower,
        di_upper=bias.upper,
        processing_instance_type=config.model_build.processing_instance_type,
    )
