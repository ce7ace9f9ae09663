"""One builder per pipeline step: Preprocess, Train, Evaluate, Register (the gates are in :mod:`.gates`).

Every container path, input and output name, property file and JSON path comes from
:mod:`sagemaker_code.steps.contract`, which the step code and the local runner import too. The builders share a
:class:`StepContext`: the settings, the parameters, the recording session and the helpers that make S3 inputs and
outputs the same way for every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from sagemaker.core import image_uris
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import FileSource, MetricsSource, ModelMetrics
from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ProcessingS3Input, Processor
from sagemaker.core.shapes import OutputDataConfig, ProcessingS3Output, S3DataSource, StoppingCondition
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData

from sagemaker_code.definition.parameters import PipelineParameters
from sagemaker_code.definition.settings import XGBOOST_IMAGE_VERSION, PipelineSettings
from sagemaker_code.steps import contract
from sagemaker_code.steps.contract import PropertyFileSpec

#: Where a processing container receives the step-code bundle (one tar.gz, named by its asset hash).
CODE_INPUT_DIR = contract.processing_input(contract.CODE_INPUT)
#: The model registry's content and response types of the served model (see sagemaker_code.steps.inference).
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json", "text/csv"]


class _RegistrationOnlyModelBuilder(ModelBuilder):  # type: ignore[misc]  # the SDK has no type information
    """ModelBuilder whose container is exactly image + trained artifact + env: nothing to upload or repack."""

    def _prepare_container_def(self, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        return {"Image": self.image_uri, "ModelDataUrl": self.s3_model_data_url, "Environment": self.env_vars}


def processing_command(module: str) -> list[str]:
    """Container entrypoint of our processing steps: unpack the code bundle, run one step module.

    ContainerArguments follow the entrypoint and reach the module through ``"$@"``.
    """
    code = contract.CODE_DIR
    script = f'mkdir -p {code} && tar -xzf {CODE_INPUT_DIR}/* -C {code} && cd {code} && exec python3 -m {module} "$@"'
    return ["/bin/sh", "-c", script, module]


def s3_processing_input(name: str, uri: Any, *, sharded: bool = False) -> ProcessingInput:
    """The processing input ``name``, downloaded to its container path (``contract.processing_input``);
    ``sharded``: each instance gets whole files of its own (ShardedByS3Key), else every file (FullyReplicated)."""
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri,
            s3_data_type="S3Prefix",
            local_path=contract.processing_input(name),
            s3_input_mode="File",
            s3_data_distribution_type="ShardedByS3Key" if sharded else "FullyReplicated",
        ),
    )


def s3_processing_output(name: str, uri: Any) -> ProcessingOutput:
    """The processing output ``name``, uploaded at the job's end from its container path to ``uri``."""
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=uri, local_path=contract.processing_output(name), s3_upload_mode="EndOfJob"
        ),
    )


def property_file(spec: PropertyFileSpec) -> PropertyFile:
    return PropertyFile(name=spec.name, output_name=spec.output, path=spec.path)


def json_get(step: Any, spec: PropertyFileSpec, json_path: str) -> JsonGet:
    """A value of a step's property file, read at run time (``Std:JsonGet``)."""
    return JsonGet(step_name=step.name, property_file=property_file(spec), json_path=json_path)


def processing_output_uri(step: Any, output: str) -> Any:
    """The S3 URI of a processing step's output, as a property reference."""
    return step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri


@dataclass(frozen=True)
class StepContext:
    """What every step builder uses: the settings, the parameters, the session, the image, step caching."""

    settings: PipelineSettings
    parameters: PipelineParameters
    session: Any
    image: str
    cache: Any

    @classmethod
    def create(cls, settings: PipelineSettings, parameters: PipelineParameters) -> StepContext:
        """A recording session (nothing is sent to AWS) and the XGBoost framework image of the region."""
        session = PipelineSession(
            boto_session=boto3.Session(region_name=settings.region),
            default_bucket=settings.sentinels.artifacts_bucket,
        )
        image = image_uris.retrieve("xgboost", region=settings.region, version=XGBOOST_IMAGE_VERSION)
        cache = CacheConfig(enable_caching=True, expire_after=settings.cache_expire_after)
        return cls(settings=settings, parameters=parameters, session=session, image=image, cache=cache)

    @property
    def run_prefix(self) -> str:
        """Every execution writes under ``s3://<artifacts>/pipelines/<pipeline>/``."""
        return f"s3://{self.settings.sentinels.artifacts_bucket}/pipelines/{self.settings.pipeline_name}"

    def s3_input(self, name: str, uri: Any, *, sharded: bool = False) -> ProcessingInput:
        return s3_processing_input(name, uri, sharded=sharded)

    def code_input(self) -> ProcessingInput:
        return self.s3_input(contract.CODE_INPUT, self.settings.sentinels.code_uri)

    def s3_output(self, step: str, name: str) -> ProcessingOutput:
        """The processing output ``name``, uploaded from its container path to the execution's folder of ``step``."""
        uri = Join(on="/", values=[self.run_prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, step, name])
        return s3_processing_output(name, uri)

    def processor(self, module: str, job_name: str, instance_count: Any = 1) -> Processor:
        sentinels, p = self.settings.sentinels, self.parameters
        return Processor(
            role=sentinels.job_role_arn,
            image_uri=self.image,
            instance_count=instance_count,
            instance_type=p.processing_instance_type,
            entrypoint=processing_command(module),
            volume_kms_key=sentinels.kms_key_arn,
            output_kms_key=sentinels.kms_key_arn,
            max_runtime_in_seconds=self.settings.max_runtime_seconds,
            base_job_name=job_name,
            sagemaker_session=self.session,
        )


def preprocess_step(ctx: StepContext) -> ProcessingStep:
    """On ``ProcessingInstanceCount`` instances; the data input is sharded by S3 key (one instance: all files)."""
    data = contract.processing_input(contract.DATA_INPUT)
    processor = ctx.processor(contract.PREPROCESS_MODULE, "preprocess", ctx.parameters.processing_instance_count)
    return ProcessingStep(
        name=contract.PREPROCESS_STEP,
        description="Validate the raw data against the dataset spec, split, fit the transform, write the baseline",
        step_args=processor.run(
            inputs=[ctx.code_input(), ctx.s3_input(contract.DATA_INPUT, ctx.parameters.input_uri, sharded=True)],
            outputs=[ctx.s3_output("preprocess", name) for name in contract.PREPROCESS_OUTPUTS],
            arguments=[
                *("--input", data, "--spec", contract.SPEC_PATH, "--output", contract.PROCESSING_OUTPUT),
                # the train split in one file per training instance: the Train step shards its channel by S3 key
                *("--train-parts", ctx.parameters.training_instance_count.to_string()),
            ],
        ),
        property_files=[property_file(contract.FINGERPRINT)],
        cache_config=ctx.cache,
    )


def training_channel(preprocess: ProcessingStep, channel: str) -> InputData:
    """A training channel from Preprocess' output of the same name: the train split sharded by S3 key over the
    training instances (each trains on its own files), the others replicated on every instance."""
    distribution = "ShardedByS3Key" if channel == contract.SHARDED_TRAINING_INPUT else "FullyReplicated"
    source = S3DataSource(
        s3_data_type="S3Prefix",
        s3_uri=processing_output_uri(preprocess, channel),
        s3_data_distribution_type=distribution,
    )
    return InputData(channel_name=channel, data_source=source)


def train_step(ctx: StepContext, preprocess: ProcessingStep) -> TrainingStep:
    """XGBoost script mode on ``TrainingInstanceCount`` instances (distributed XGBoost when more than one, see
    sagemaker_code.steps.cluster): the container unpacks the bundle and runs the launcher with the hyperparameters
    (and the bias mitigation) as ``--name value`` arguments, one channel per Preprocess output it reads."""
    s, p = ctx.settings.sentinels, ctx.parameters
    trainer = ModelTrainer(
        training_image=ctx.image,
        role=s.job_role_arn,
        sagemaker_session=ctx.session,
        base_job_name="train",
        compute=Compute(
            instance_type=p.training_instance_type,
            instance_count=p.training_instance_count,
            volume_kms_key_id=s.kms_key_arn,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=ctx.settings.max_runtime_seconds),
        hyperparameters={
            **{name: param.to_string() for name, param in p.hyperparameters.items()},
            contract.BIAS_MITIGATION_HYPERPARAMETER: p.bias_mitigation.to_string(),
            "sagemaker_program": contract.TRAIN_PROGRAM,
            "sagemaker_submit_directory": s.code_uri,
        },
        output_data_config=OutputDataConfig(s3_output_path=f"{ctx.run_prefix}/models", kms_key_id=s.kms_key_arn),
    )
    return TrainingStep(
        name=contract.TRAIN_STEP,
        description="Train gradient-boosted trees on the train split, early-stopped on the validation split; choose "
        "the decision threshold with the least expected cost on the validation split",
        step_args=trainer.train(
            input_data_config=[training_channel(preprocess, channel) for channel in contract.TRAINING_INPUTS]
        ),
        cache_config=ctx.cache,
    )


def evaluate_step(ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep) -> ProcessingStep:
    """Metrics, the bias report in Clarify's formats and the gate decisions; the thresholds are parameters. One
    instance: the metrics, their bootstrap and the bias report need every test row together."""
    p = ctx.parameters
    methods = ", ".join((*contract.PRE_TRAINING_METHODS, *contract.POST_TRAINING_METHODS))
    return ProcessingStep(
        name=contract.EVALUATE_STEP,
        description=f"Test-split metrics with bootstrap intervals, the bias report in Clarify's formats ({methods} "
        "per facet), and the quality, cost and bias gate decisions",
        step_args=ctx.processor(contract.EVALUATE_MODULE, "evaluate").run(
            inputs=[
                ctx.code_input(),
                ctx.s3_input(contract.MODEL_INPUT, train.properties.ModelArtifacts.S3ModelArtifacts),
                ctx.s3_input(contract.TEST_INPUT, processing_output_uri(preprocess, contract.TEST_INPUT)),
            ],
            outputs=[ctx.s3_output("evaluate", name) for name in contract.EVALUATE_OUTPUTS],
            arguments=[
                *("--model", contract.processing_input(contract.MODEL_INPUT)),
                *("--test", contract.processing_input(contract.TEST_INPUT)),
                *("--spec", contract.SPEC_PATH, "--output", contract.PROCESSING_OUTPUT),
                *("--auc-threshold", p.auc_threshold.to_string(), "--cost-margin", p.cost_margin.to_string()),
                *("--di-lower", p.disparate_impact_lower.to_string()),
                *("--di-upper", p.disparate_impact_upper.to_string()),
            ],
        ),
        property_files=[property_file(contract.EVALUATION), property_file(contract.GATES)],
    )


def register_step(
    ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep, evaluate: ProcessingStep
) -> ModelStep:
    """Register the model package with its metrics, bias report, baselines and lineage."""
    s, p = ctx.settings.sentinels, ctx.parameters

    def uri(step: ProcessingStep, output: str, file_name: str) -> Join:
        return Join(on="/", values=[processing_output_uri(step, output), file_name])

    def report(step: ProcessingStep, output: str, file_name: str) -> MetricsSource:
        return MetricsSource(content_type="application/json", s3_uri=uri(step, output, file_name))

    def as_text(value: Any) -> Join:
        return Join(on="", values=[value])

    bias_analysis = report(evaluate, contract.BIAS_OUTPUT, contract.ANALYSIS)
    baseline_statistics = report(preprocess, contract.BASELINE_OUTPUT, contract.BASELINE_STATISTICS)
    baseline_constraints = report(preprocess, contract.BASELINE_OUTPUT, contract.BASELINE_CONSTRAINTS)
    builder = _RegistrationOnlyModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=ctx.image,
        role_arn=s.job_role_arn,
        sagemaker_session=ctx.session,
        env_vars={
            "SAGEMAKER_PROGRAM": contract.SERVING_PROGRAM,
            "SAGEMAKER_SUBMIT_DIRECTORY": contract.SERVING_CODE_DIR,
        },
    )
    inference_instances = list(ctx.settings.inference_instance_types)
    return ModelStep(
        name=contract.REGISTER_STEP,
        description="Register the model package with its metrics, bias report, baselines and lineage",
        step_args=builder.register(
            model_package_group_name=ctx.settings.model_package_group_name,
            content_types=CONTENT_TYPES,
            response_types=RESPONSE_TYPES,
            inference_instances=inference_instances,
            transform_instances=inference_instances,
            approval_status=p.model_approval_status,
            model_metrics=ModelMetrics(
                model_statistics=report(evaluate, contract.EVALUATION.output, contract.EVALUATION.path),
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
                    content_type="application/json",
                    s3_uri=uri(evaluate, contract.BIAS_OUTPUT, contract.ANALYSIS_CONFIG),
                ),
            ),
            customer_metadata_properties={
                "dataset_name": ctx.settings.dataset_name,
                "input_data_uri": p.input_uri,
                "test_data_uri": uri(preprocess, contract.TEST_INPUT, contract.TEST_RAW_FILE),
                "bias_mitigation": p.bias_mitigation,
                "dataset_sha256": as_text(json_get(preprocess, contract.FINGERPRINT, contract.FINGERPRINT_SHA256)),
                "dataset_rows": as_text(json_get(preprocess, contract.FINGERPRINT, contract.FINGERPRINT_ROWS)),
                "decision_threshold": as_text(json_get(evaluate, contract.EVALUATION, contract.DECISION_THRESHOLD)),
                "git_commit": p.git_commit,
                "trigger": p.trigger,
                "model_build_fingerprint": p.model_build_fingerprint,
                "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            },
        ),
    )
