"""The SageMaker Pipeline definition, built with the SageMaker Python SDK 3.x at synth time, offline.

Preprocess (Processing) -> Train (Training, XGBoost script mode; chooses the decision threshold by cost on the
validation split) -> Evaluate (Processing: test metrics, the bias report in Clarify's formats and the gate file
``gates.json``) -> QualityGate (AUC) -> CostGate (cost against the cheapest constant decision) -> BiasGate (disparate
impact per facet) -> Register (RegisterModel, PendingManualApproval by default).

Every gate is decided by the Evaluate step (:mod:`sagemaker_code.steps.gates`), with the thresholds passed in as
container arguments from the pipeline parameters: a condition step compares ``<gate>.passed`` of the property file
``Gates`` with 1, and its Fail step's message is ``<gate>.message`` from the same file. So no condition reads a metric
by its position in a list, and an undefined metric is a failed gate with a readable message, not an expression error.

There is no SageMaker Clarify job: Clarify is no longer open to new customers, and one processing job less is faster
and cheaper. The bias report keeps Clarify's formats (see :mod:`sagemaker_code.steps.bias`).

The SDK cannot see CDK tokens (an S3 URI holding ``${Token[...]}`` does not parse, a token role ARN is looked up in
IAM), so the definition is built with well-formed *sentinel* values (:class:`Sentinels`) that the CDK stack replaces
with the real token strings (bucket names, role and key ARNs, asset URIs). Nothing here calls AWS: the session is a
``PipelineSession`` (it records requests instead of sending them), every S3 location is given explicitly (nothing is
uploaded), and model registration goes through :class:`_RegistrationOnlyModelBuilder`, which skips the SDK's code
upload. Telemetry is opted out through the session's in-memory config.

Run as ``python -m sagemaker_code.definition.build SETTINGS.json OUT.json`` (what :mod:`sagemaker_code.definition.cache`
does, in a background process, so that the SDK import does not sit on the synth's critical path).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_code.steps.hyperparameters import Hyperparameters

__all__ = ["Hyperparameters", "PipelineSettings", "Sentinels", "build_definition"]
from unittest import mock

#: The XGBoost framework image runs preprocess, training (script mode), evaluation and serving.
XGBOOST_IMAGE_VERSION = "3.2-0"
#: Container paths of the processing steps (the local runner maps the same paths to folders).
PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = "/opt/ml/code"
#: Where the step code bundle (one tar.gz, named by its asset hash) lands in a processing container.
CODE_INPUT_DIR = f"{PROCESSING_ROOT}/input/code"
#: The dataset spec travels inside the code bundle (see :mod:`sagemaker_code.definition.bundle`), next to the package.
SPEC_PATH = f"{CODE_DIR}/dataset_spec.json"
#: The gates, in the order the condition steps check them: (gate file key, condition step, Fail step).
GATE_STEPS = (
    ("quality", "QualityGate", "QualityGateFailed"),
    ("cost", "CostGate", "CostGateFailed"),
    ("bias", "BiasGate", "BiasGateFailed"),
)


@dataclass(frozen=True)
class Sentinels:
    """Well-formed stand-ins for values only CloudFormation knows; the CDK stack swaps them for tokens."""

    job_role_arn: str = "arn:aws:iam::000000000000:role/sentinel-sagemaker-job-role"
    artifacts_bucket: str = "sentinel-artifacts-bucket-0000"
    data_bucket: str = "sentinel-data-bucket-0000"
    kms_key_arn: str = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
    code_uri: str = "s3://sentinel-code-bucket-0000/sentinel-code.tar.gz"
    sample_data_uri: str = "s3://sentinel-code-bucket-0000/sentinel-sample.data"
    #: Default of the ModelBuildFingerprint parameter: the stack's sha256 over the definition, step code and data.
    model_build_fingerprint: str = "sentinel-model-build-fingerprint"

    def values(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the definition depends on (also the cache key of :mod:`sagemaker_code.definition.cache`)."""

    pipeline_name: str
    region: str
    model_package_group_name: str
    #: Pipeline parameter defaults
    default_input_uri: str
    processing_instance_type: str = "ml.m5.large"
    processing_instance_count: int = 1
    training_instance_type: str = "ml.m5.large"
    auc_threshold: float = 0.75
    cost_margin: float = 0.05
    disparate_impact_lower: float = 0.8
    disparate_impact_upper: float = 1.25
    model_approval_status: str = "PendingManualApproval"
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    #: Facet names of the dataset spec (named in the bias gate's description; the gate itself reads gates.json).
    facets: tuple[str, ...] = ()
    cache_expire_after: str = "P30D"
    inference_instance_types: tuple[str, ...] = ("ml.m5.large",)
    max_runtime_seconds: int = 3600
    sentinels: Sentinels = field(default_factory=Sentinels)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PipelineSettings:
        data = dict(raw)
        data["hyperparameters"] = Hyperparameters(**data["hyperparameters"])
        data["sentinels"] = Sentinels(**data["sentinels"])
        data["facets"] = tuple(data["facets"])
        data["inference_instance_types"] = tuple(data["inference_instance_types"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _processing_command(module: str) -> list[str]:
    """Container entrypoint of our processing steps: unpack the code bundle, run one step module.

    ContainerArguments follow the entrypoint and reach the module through ``"$@"``.
    """
    script = (
        f"mkdir -p {CODE_DIR} && tar -xzf {CODE_INPUT_DIR}/* -C {CODE_DIR} && "
        f'cd {CODE_DIR} && exec python3 -m {module} "$@"'
    )
    return ["/bin/sh", "-c", script, module]


def build_definition(settings: PipelineSettings) -> str:
    """The pipeline definition JSON (with sentinel values) for ``settings``; no AWS calls."""
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)  # sagemaker.train reads it at import
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")  # no IAM look-up of the sentinel role
    from sagemaker.core.telemetry import telemetry_logging

    # The SDK prints banners and warns about PipelineSession semantics; none of it is news at synth.
    # Telemetry: opting out through the SDK config makes every SDK call re-validate that config against its JSON
    # schema (~10 s for this pipeline), so the sender itself is replaced for the duration of the build instead.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        mock.patch.object(telemetry_logging, "_send_telemetry_request", return_value=None),
    ):
        warnings.simplefilter("ignore")
        for name in ("sagemaker", "botocore", "boto3"):
            logging.getLogger(name).setLevel(logging.ERROR)
        return _build(settings)


def _build(settings: PipelineSettings) -> str:  # noqa: PLR0915 - one linear pipeline description
    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import FileSource, MetricsSource, ModelMetrics
    from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ProcessingS3Input, Processor
    from sagemaker.core.shapes import OutputDataConfig, ProcessingS3Output, StoppingCondition
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
    from sagemaker.serve import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData

    class _RegistrationOnlyModelBuilder(ModelBuilder):  # type: ignore[misc]
        """ModelBuilder whose container is exactly image + trained artifact + env: nothing to upload or repack."""

        def _prepare_container_def(self, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
            return {"Image": self.image_uri, "ModelDataUrl": self.s3_model_data_url, "Environment": self.env_vars}

    s = settings.sentinels
    session = PipelineSession(
        boto_session=boto3.Session(region_name=settings.region),
        default_bucket=s.artifacts_bucket,
    )
    xgboost_image = image_uris.retrieve("xgboost", region=settings.region, version=XGBOOST_IMAGE_VERSION)

    # ---- parameters ------------------------------------------------------------------------------------------
    input_uri = ParameterString("InputDataUri", default_value=settings.default_input_uri)
    processing_type = ParameterString("ProcessingInstanceType", default_value=settings.processing_instance_type)
    processing_count = ParameterInteger("ProcessingInstanceCount", default_value=settings.processing_instance_count)
    training_type = ParameterString("TrainingInstanceType", default_value=settings.training_instance_type)
    auc_threshold = ParameterFloat("AucThreshold", default_value=settings.auc_threshold)
    cost_margin = ParameterFloat("CostMargin", default_value=settings.cost_margin)
    di_lower = ParameterFloat("DisparateImpactLower", default_value=settings.disparate_impact_lower)
    di_upper = ParameterFloat("DisparateImpactUpper", default_value=settings.disparate_impact_upper)
    approval_status = ParameterString("ModelApprovalStatus", default_value=settings.model_approval_status)
    git_commit = ParameterString("GitCommit", default_value="unknown")
    fingerprint_param = ParameterString("ModelBuildFingerprint", default_value=s.model_build_fingerprint)
    hp = settings.hyperparameters
    hyper_params = {
        "max_depth": ParameterInteger("MaxDepth", default_value=hp.max_depth),
        "eta": ParameterFloat("Eta", default_value=hp.eta),
        "num_round": ParameterInteger("NumRound", default_value=hp.num_round),
        "subsample": ParameterFloat("Subsample", default_value=hp.subsample),
        "colsample_bytree": ParameterFloat("ColsampleBytree", default_value=hp.colsample_bytree),
        "min_child_weight": ParameterFloat("MinChildWeight", default_value=hp.min_child_weight),
        "early_stopping_rounds": ParameterInteger("EarlyStoppingRounds", default_value=hp.early_stopping_rounds),
    }
    parameters = [
        input_uri,
        processing_type,
        processing_count,
        training_type,
        auc_threshold,
        cost_margin,
        di_lower,
        di_upper,
        approval_status,
        git_commit,
        fingerprint_param,
        *hyper_params.values(),
    ]

    cache = CacheConfig(enable_caching=True, expire_after=settings.cache_expire_after)

    def output_uri(step: str, name: str) -> Join:
        return Join(
            on="/",
            values=[
                f"s3://{s.artifacts_bucket}/pipelines/{settings.pipeline_name}",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                step,
                name,
            ],
        )

    def s3_input(name: str, uri: Any, local_path: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, s3_data_type="S3Prefix", local_path=local_path, s3_input_mode="File"
            ),
        )

    def s3_output(step: str, name: str, local_path: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=output_uri(step, name), local_path=local_path, s3_upload_mode="EndOfJob"
            ),
        )

    def processor(image: str, entrypoint: list[str] | None, job_name: str) -> Processor:
        return Processor(
            role=s.job_role_arn,
            image_uri=image,
            instance_count=processing_count,
            instance_type=processing_type,
            entrypoint=entrypoint,
            volume_kms_key=s.kms_key_arn,
            output_kms_key=s.kms_key_arn,
            max_runtime_in_seconds=settings.max_runtime_seconds,
            base_job_name=job_name,
            sagemaker_session=session,
        )

    code_input = s3_input("code", s.code_uri, CODE_INPUT_DIR)

    # ---- Preprocess --------------------------------------------------------------------------------------------
    preprocess_outputs = ["train", "validation", "test", "transform", "baseline", "fingerprint", "report"]
    fingerprint = PropertyFile(name="Fingerprint", output_name="fingerprint", path="fingerprint.json")
    preprocess = ProcessingStep(
        name="Preprocess",
        description="Validate the raw data against the dataset spec, split, fit the transform, write the baseline",
        step_args=processor(xgboost_image, _processing_command("sagemaker_code.steps.preprocess"), "preprocess").run(
            inputs=[code_input, s3_input("data", input_uri, f"{PROCESSING_ROOT}/input/data")],
            outputs=[s3_output("preprocess", o, f"{PROCESSING_ROOT}/output/{o}") for o in preprocess_outputs],
            arguments=[
                "--input",
                f"{PROCESSING_ROOT}/input/data",
                "--spec",
                SPEC_PATH,
                "--output",
                f"{PROCESSING_ROOT}/output",
            ],
        ),
        property_files=[fingerprint],
        cache_config=cache,
    )

    def preprocess_output(name: str) -> Any:
        return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # ---- Train -------------------------------------------------------------------------------------------------
    trainer = ModelTrainer(
        training_image=xgboost_image,
        role=s.job_role_arn,
        sagemaker_session=session,
        base_job_name="train",
        compute=Compute(instance_type=training_type, instance_count=1, volume_kms_key_id=s.kms_key_arn),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.max_runtime_seconds),
        # Script mode of the XGBoost framework container: it unpacks the bundle and runs the program with the
        # remaining hyperparameters as `--name value` arguments.
        hyperparameters={
            **{name: param.to_string() for name, param in hyper_params.items()},
            "sagemaker_program": "train.py",  # the launcher at the bundle root (sagemaker_code.definition.bundle)
            "sagemaker_submit_directory": s.code_uri,
        },
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{s.artifacts_bucket}/pipelines/{settings.pipeline_name}/models",
            kms_key_id=s.kms_key_arn,
        ),
    )
    train = TrainingStep(
        name="Train",
        description="Train gradient-boosted trees on the train split, early-stopped on the validation split; choose "
        "the decision threshold with the least expected cost on the validation split",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name=channel, data_source=preprocess_output(channel))
                for channel in ("train", "validation", "transform")
            ]
        ),
        cache_config=cache,
    )

    # ---- Evaluate: metrics, bias report (Clarify's formats), gate decisions ------------------------------------
    evaluation = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    gates = PropertyFile(name="Gates", output_name="gates", path="gates.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        description="Test-split metrics with bootstrap intervals, the bias report in Clarify's formats (CI, DPL, DI, "
        "DPPL, RD per facet), and the quality, cost and bias gate decisions",
        step_args=processor(xgboost_image, _processing_command("sagemaker_code.steps.evaluate"), "evaluate").run(
            inputs=[
                code_input,
                s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, f"{PROCESSING_ROOT}/input/model"),
                s3_input("test", preprocess_output("test"), f"{PROCESSING_ROOT}/input/test"),
            ],
            outputs=[
                s3_output("evaluate", o, f"{PROCESSING_ROOT}/output/{o}") for o in ("evaluation", "bias", "gates")
            ],
            arguments=[
                "--model",
                f"{PROCESSING_ROOT}/input/model",
                "--test",
                f"{PROCESSING_ROOT}/input/test",
                "--spec",
                SPEC_PATH,
                "--output",
                f"{PROCESSING_ROOT}/output",
                "--auc-threshold",
                auc_threshold.to_string(),
                "--cost-margin",
                cost_margin.to_string(),
                "--di-lower",
                di_lower.to_string(),
                "--di-upper",
                di_upper.to_string(),
            ],
        ),
        property_files=[evaluation, gates],
    )

    # ---- Register ----------------------------------------------------------------------------------------------
    def report(step: ProcessingStep, output: str, file_name: str) -> Join:
        uri = step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri
        return Join(on="/", values=[uri, file_name])

    def as_text(value: Any) -> Join:
        return Join(on="", values=[value])

    bias_analysis = MetricsSource(content_type="application/json", s3_uri=report(evaluate, "bias", "analysis.json"))
    builder = _RegistrationOnlyModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=xgboost_image,
        role_arn=s.job_role_arn,
        sagemaker_session=session,
        env_vars={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    )
    baseline_statistics = MetricsSource(
        content_type="application/json", s3_uri=report(preprocess, "baseline", "statistics.json")
    )
    baseline_constraints = MetricsSource(
        content_type="application/json", s3_uri=report(preprocess, "baseline", "constraints.json")
    )
    register = ModelStep(
        name="Register",
        description="Register the model package with its metrics, bias report, baselines and lineage",
        step_args=builder.register(
            model_package_group_name=settings.model_package_group_name,
            content_types=["text/csv", "application/json"],
            response_types=["application/json", "text/csv"],
            inference_instances=list(settings.inference_instance_types),
            transform_instances=list(settings.inference_instance_types),
            approval_status=approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    content_type="application/json", s3_uri=report(evaluate, "evaluation", "evaluation.json")
                ),
                model_data_statistics=baseline_statistics,
                model_data_constraints=baseline_constraints,
                bias=bias_analysis,
                bias_pre_training=bias_analysis,
                bias_post_training=bias_analysis,
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=baseline_statistics,
                model_data_constraints=baseline_constraints,
                bias_config_file=FileSource(
                    content_type="application/json", s3_uri=report(evaluate, "bias", "analysis_config.json")
                ),
            ),
            customer_metadata_properties={
                "dataset_sha256": as_text(
                    JsonGet(step_name=preprocess.name, property_file=fingerprint, json_path="sha256")
                ),
                "dataset_rows": as_text(
                    JsonGet(step_name=preprocess.name, property_file=fingerprint, json_path="rows")
                ),
                "decision_threshold": as_text(
                    JsonGet(step_name=evaluate.name, property_file=evaluation, json_path="decision_threshold")
                ),
                "git_commit": git_commit,
                "model_build_fingerprint": fingerprint_param,
                "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            },
        ),
    )

    # ---- Gates: each reads `passed` and `message` of its entry in gates.json -----------------------------------
    descriptions = {
        "quality": "Test AUC at least AucThreshold",
        "cost": "Test cost per row at most (1 - CostMargin) x the cheaper constant decision (accept or reject all)",
        "bias": "Disparate impact within [DisparateImpactLower, DisparateImpactUpper] for every facet"
        + (f" ({', '.join(settings.facets)})" if settings.facets else ""),
    }
    next_steps: list[Any] = [register]
    for key, name, failed in reversed(GATE_STEPS):
        gate = ConditionStep(
            name=name,
            description=descriptions[key],
            conditions=[
                ConditionEquals(
                    left=JsonGet(step_name=evaluate.name, property_file=gates, json_path=f"{key}.passed"), right=1
                )
            ],
            if_steps=next_steps,
            else_steps=[
                FailStep(
                    name=failed,
                    # Join, the form SageMaker documents for a computed ErrorMessage (a bare JsonGet is not shown)
                    error_message=Join(
                        on="",
                        values=[JsonGet(step_name=evaluate.name, property_file=gates, json_path=f"{key}.message")],
                    ),
                )
            ],
        )
        next_steps = [gate]
    pipeline = Pipeline(
        name=settings.pipeline_name,
        parameters=parameters,
        steps=[preprocess, train, evaluate, *next_steps],
        sagemaker_session=session,
    )
    definition: str = pipeline.definition()
    return definition


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m sagemaker_code.definition.build SETTINGS.json OUT.json\n")
        return 2
    settings = [PipelineSettings.from_dict(item) for item in json.loads(Path(args[0]).read_text())]
    out = {item.pipeline_name: json.loads(build_definition(item)) for item in settings}
    Path(args[1]).write_text(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
