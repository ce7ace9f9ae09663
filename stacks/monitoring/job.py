"""The monitoring job of one endpoint: its step code, pipeline, schedule and roles, and what its job may read.

SageMaker Model Monitor is closed to new customers, so the job is a SageMaker Pipeline of this project
(:mod:`sagemaker_code.definition.monitoring`, step code ``sagemaker_code/steps/monitor.py``) on a schedule. The job
role reads the window's captured data and ground truth of this endpoint only, the live-model parameter, the live
package and its baseline (in the registry, possibly another account), writes its report and publishes its figures in
the project's namespace only.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.monitoring import MonitoringSettings
from config.naming import (
    CAPTURE_PREFIX,
    GROUND_TRUTH_PREFIX,
    MONITORING_REPORT_PREFIX,
    endpoint_name,
    live_model_parameter_name,
    monitor_job_role_name,
)
from sagemaker_code.definition.monitoring import MonitorPipelineSettings
from sagemaker_code.steps.hyperparameters import Hyperparameter
from stacks.compliance import acknowledge, acknowledge_wildcard_resource
from stacks.model_build.sagemaker_pipeline import substitute_sentinels
from stacks.model_build.stack import images_in
from stacks.model_build.step_code import StepCode
from stacks.monitoring.monitor_pipeline import MonitorPipeline
from stacks.serving.registry import RegistrySource
from stacks.storage.stack import StorageStack


class MonitoringJob(Construct):
    """The monitoring pipeline of ``monitor`` (its ``definition`` with sentinels) and its schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        settings: MonitoringSettings,
        monitor: MonitorPipelineSettings,
        definition: str,
        dataset_spec: dict[str, Any],
        hyperparameters: tuple[Hyperparameter, ...],
        storage: StorageStack,
        registry: RegistrySource,
        namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.pipeline_name = monitor.pipeline_name
        endpoint = endpoint_name(project, env_name)
        stack = cdk.Stack.of(self)
        step_code = StepCode(
            self, "StepCode", dataset_spec=dataset_spec, hyperparameters=hyperparameters, sample_data=None
        )
        job_role_name = monitor_job_role_name(project, env_name)
        job_role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=job_role_name)
        buckets = storage.bucket_names
        replacements = {
            "job_role_arn": job_role_arn,
            "artifacts_bucket": buckets["artifacts"],
            "data_bucket": buckets["data"],
            "kms_key_arn": storage.data_key.key_arn,
            "code_uri": step_code.code.s3_object_url,
        }
        parsed_images = images_in(json.loads(definition))
        monitor_pipeline = MonitorPipeline(
            self,
            "Monitor",
            pipeline_name=monitor.pipeline_name,
            definition=substitute_sentinels(definition, replacements, monitor.sentinels),
            job_role_name=job_role_name,
            images=parsed_images,
            schedule=settings.schedule,
            data_key=storage.data_key,
            registry=registry,
        )
        job_role = monitor_pipeline.job_role
        step_code.grant_read(job_role)
        partition = stack.partition
        capture_objects = f"arn:{partition}:s3:::{buckets['capture']}/{CAPTURE_PREFIX}/{endpoint}/*"
        labels = f"arn:{partition}:s3:::{buckets['data']}/{GROUND_TRUTH_PREFIX}/{endpoint}/*"
        reports = f"arn:{partition}:s3:::{buckets['artifacts']}/{MONITORING_REPORT_PREFIX}/*"
        parameter = stack.format_arn(
            service="ssm", resource="parameter", resource_name=live_model_parameter_name(project, env_name).lstrip("/")
        )
        reads = iam.Policy(
            self,
            "MonitorData",
            statements=[
                iam.PolicyStatement(
                    sid="ListWindow",
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{partition}:s3:::{buckets['capture']}", f"arn:{partition}:s3:::{buckets['data']}"],
                    conditions={
                        "StringLike": {
                            "s3:prefix": [f"{CAPTURE_PREFIX}/{endpoint}/*", f"{GROUND_TRUTH_PREFIX}/{endpoint}/*"]
                        }
                    },
                ),
                iam.PolicyStatement(sid="ReadWindow", actions=["s3:GetObject"], resources=[capture_objects, labels]),
                iam.PolicyStatement(sid="WriteReport", actions=["s3:PutObject"], resources=[reports]),
                iam.PolicyStatement(sid="LiveModel", actions=["ssm:GetParameter"], resources=[parameter]),
                iam.PolicyStatement(
                    sid="PublishFigures",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
                ),
            ],
        )
        reads.attach_to_role(job_role)
        for arn, why in (
            (
                capture_objects,
                "SageMaker writes captured data under <endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/; "
                "read-only, this endpoint's prefix.",
            ),
            (
                labels,
                "Ground truth arrives under <endpoint>/<yyyy>/<mm>/<dd>/<hh>/ (README); read-only, this endpoint.",
            ),
            (reports, "One report folder per monitoring execution (ids exist at run time); write-only."),
        ):
            acknowledge_wildcard_resource(reads, arn, why)
        acknowledge(
            reads,
            "AwsSolutions-IAM5[Resource::*]",
            f"cloudwatch:PutMetricData has no resource-level permissions; limited to the {namespace} "
            "namespace by a condition.",
        )
