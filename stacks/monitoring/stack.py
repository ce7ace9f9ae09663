"""Per serving environment with data capture: our own monitoring job, its alarms and dashboard, and retraining.

SageMaker Model Monitor is closed to new customers, so the monitoring job is a SageMaker Pipeline of this project
(:mod:`sagemaker_code.definition.monitoring`, step code ``sagemaker_code/steps/monitor.py``) on a schedule. It
publishes its figures as CloudWatch metrics; alarms on them notify the environment's monitoring topic, and the
drift, quality and bias alarms (by ARN) trigger the retraining function when config asks for retraining.
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
    environment_prefix,
    live_model_parameter_name,
    monitor_job_role_name,
    monitoring_namespace,
)
from sagemaker_code.definition.monitoring import MonitorPipelineSettings
from sagemaker_code.steps.hyperparameters import Hyperparameter
from stacks.common.notification_topic import notification_topic
from stacks.compliance import acknowledge, acknowledge_wildcard_resource
from stacks.model_build.sagemaker_pipeline import substitute_sentinels
from stacks.model_build.stack import images_in
from stacks.model_build.step_code import StepCode
from stacks.monitoring.alarms import MonitoringAlarms
from stacks.monitoring.dashboard import monitoring_dashboard
from stacks.monitoring.monitor_pipeline import MonitorPipeline
from stacks.monitoring.retraining import Retraining, RetrainingTarget
from stacks.serving.endpoint import VARIANT_NAME
from stacks.serving.registry import RegistrySource
from stacks.storage.stack import StorageStack


class MonitoringStack(cdk.Stack):
    """The monitoring pipeline and its schedule, alarms, a dashboard, a topic, and optionally retraining."""

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
        min_auc: float,
        retraining: RetrainingTarget | None,
        training_pipeline_name: str | None,
        **kwargs: Any,
    ) -> None:
        """``training_pipeline_name``: the registry's pipeline when it is in this account and region (its failures
        are alarmed here too), else None. ``retraining``: what the retraining function starts, when config asks."""
        super().__init__(scope, construct_id, **kwargs)
        endpoint = endpoint_name(project, env_name)
        namespace = monitoring_namespace(project)
        step_code = StepCode(
            self, "StepCode", dataset_spec=dataset_spec, hyperparameters=hyperparameters, sample_data=None
        )
        job_role_name = monitor_job_role_name(project, env_name)
        job_role_arn = self.format_arn(service="iam", region="", resource="role", resource_name=job_role_name)
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
        partition = self.partition
        capture_objects = f"arn:{partition}:s3:::{buckets['capture']}/{CAPTURE_PREFIX}/{endpoint}/*"
        labels = f"arn:{partition}:s3:::{buckets['data']}/{GROUND_TRUTH_PREFIX}/{endpoint}/*"
        reports = f"arn:{partition}:s3:::{buckets['artifacts']}/{MONITORING_REPORT_PREFIX}/*"
        parameter = self.format_arn(
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

        topic = notification_topic(
            self,
            alias=f"alias/{environment_prefix(project, env_name)}-monitoring",
            description=f"{environment_prefix(project, env_name)}: encrypts the monitoring topic",
            emails=list(settings.notification_emails),
        )
        self.topic = topic.topic
        self.alarms = MonitoringAlarms(
            self,
            "Alarms",
            settings=settings,
            namespace=namespace,
            env_name=env_name,
            endpoint=endpoint,
            variant=VARIANT_NAME,
            min_auc=min_auc,
            pipelines=[monitor.pipeline_name, *([training_pipeline_name] if training_pipeline_name else [])],
            topic=self.topic,
        )
        self.retraining: Retraining | None = None
        if retraining is not None:
            self.retraining = Retraining(
                self,
                "Retraining",
                project=project,
                env_name=env_name,
                settings=settings,
                target=retraining,
                alarms=self.alarms.retraining_alarms,
                topic=self.topic,
                topic_key=topic.key,
            )
            self.alarms.watch_retraining(self.retraining.function, self.retraining.dead_letter_queue)
        monitoring_dashboard(
            self,
            "Dashboard",
            name=f"{environment_prefix(project, env_name)}-monitoring",
            alarms=self.alarms,
            namespace=namespace,
            env_name=env_name,
            endpoint=endpoint,
            variant=VARIANT_NAME,
            pipelines=[monitor.pipeline_name, *([training_pipeline_name] if training_pipeline_name else [])],
            retraining_namespace=self.retraining.metrics_namespace if self.retraining else None,
        )
        cdk.CfnOutput(self, "MonitoringPipelineName", value=monitor.pipeline_name)
        cdk.CfnOutput(self, "MonitoringTopicArn", value=self.topic.topic_arn)
