"""Per serving environment: the endpoint's health alarms, a topic and a dashboard; where data is captured and config
asks for it, our own monitoring job, its drift/quality/bias alarms and retraining.

Alarms on the job's figures notify the environment's monitoring topic, and the drift, quality and bias alarms (by ARN)
trigger the retraining function when config asks for retraining (see :mod:`stacks.monitoring.job`,
:mod:`stacks.monitoring.alarms`, :mod:`stacks.monitoring.retraining`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.monitoring import MonitoringSettings
from config.naming import endpoint_name, environment_prefix, monitoring_namespace
from config.serving import EndpointAlarms
from sagemaker_code.definition.monitoring import MonitorPipelineSettings
from sagemaker_code.steps.hyperparameters import Hyperparameter
from stacks.common.notification_topic import notification_topic
from stacks.monitoring.alarms import MonitoringAlarms
from stacks.monitoring.dashboard import monitoring_dashboard
from stacks.monitoring.job import MonitoringJob
from stacks.monitoring.retraining import Retraining, RetrainingTarget
from stacks.serving.endpoint import VARIANT_NAME
from stacks.serving.registry import RegistrySource
from stacks.storage.stack import StorageStack


def announce_failed_batch_jobs(scope: Construct, construct_id: str, *, prefix: str, topic: sns.ITopic) -> events.Rule:
    """SageMaker's state change of a failed transform job named ``prefix``... -> a readable message on ``topic``.
    Batch runs are asynchronous: the function that starts one has succeeded long before the job fails."""
    job, reason = (
        events.EventField.from_path("$.detail.TransformJobName"),
        events.EventField.from_path("$.detail.FailureReason"),
    )
    return events.Rule(
        scope,
        construct_id,
        description=f"Failed batch-scoring jobs ({prefix}*) to the monitoring topic",
        event_pattern=events.EventPattern(
            source=["aws.sagemaker"],
            detail_type=["SageMaker Transform Job State Change"],
            detail={"TransformJobStatus": ["Failed"], "TransformJobName": events.Match.prefix(prefix)},
        ),
        targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
            f"Batch scoring job {job} failed: {reason}. Its input and output prefixes are in serving.batch; the "
            "job's logs are in CloudWatch Logs under /aws/sagemaker/TransformJobs."))],
    )  # fmt: skip


@dataclass(frozen=True)
class MonitoredJob:
    """What a monitored environment's job needs: its settings, its pipeline's settings and definition (with
    sentinels), the dataset spec and hyperparameter table for its step-code bundle, the AUC alarm's default, and the
    retraining target when config asks for retraining."""

    settings: MonitoringSettings
    monitor: MonitorPipelineSettings
    definition: str
    dataset_spec: dict[str, Any]
    hyperparameters: tuple[Hyperparameter, ...]
    min_auc: float
    retraining: RetrainingTarget | None


class MonitoringStack(cdk.Stack):
    """Health alarms, topic and dashboard of the endpoint; the monitoring job and retraining when ``job`` is given."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        health: EndpointAlarms,
        storage: StorageStack,
        registry: RegistrySource,
        job: MonitoredJob | None,
        training_pipeline_name: str | None,
        batch_jobs: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``training_pipeline_name``: the registry's pipeline when this environment is the registry (its failures
        are alarmed here), else None. ``batch_jobs``: the name prefix of the environment's batch-scoring transform
        jobs, whose failures are announced on the topic (None: no batch scoring)."""
        super().__init__(scope, construct_id, **kwargs)
        endpoint = endpoint_name(project, env_name)
        namespace = monitoring_namespace(project)
        pipelines = [*([training_pipeline_name] if training_pipeline_name else [])]
        if job is not None:
            monitoring = MonitoringJob(
                self,
                "Job",
                project=project,
                env_name=env_name,
                settings=job.settings,
                monitor=job.monitor,
                definition=job.definition,
                dataset_spec=job.dataset_spec,
                hyperparameters=job.hyperparameters,
                storage=storage,
                registry=registry,
                namespace=namespace,
            )
            pipelines.insert(0, monitoring.pipeline_name)
            cdk.CfnOutput(self, "MonitoringPipelineName", value=monitoring.pipeline_name)

        topic = notification_topic(
            self,
            alias=f"alias/{environment_prefix(project, env_name)}-monitoring",
            description=f"{environment_prefix(project, env_name)}: encrypts the monitoring topic",
            emails=list(health.notification_emails),
        )
        self.topic = topic.topic
        self.alarms = MonitoringAlarms(
            self,
            "Alarms",
            settings=job.settings if job else None,
            health=health,
            namespace=namespace,
            env_name=env_name,
            endpoint=endpoint,
            variant=VARIANT_NAME,
            min_auc=job.min_auc if job else 0.0,
            pipelines=pipelines,
            topic=self.topic,
        )
        if batch_jobs is not None:
            announce_failed_batch_jobs(self, "BatchScoringFailed", prefix=batch_jobs, topic=self.topic)
        self.retraining: Retraining | None = None
        if job is not None and job.retraining is not None:
            self.retraining = Retraining(
                self,
                "Retraining",
                project=project,
                env_name=env_name,
                settings=job.settings,
                target=job.retraining,
                alarms=self.alarms.retraining_alarms,
                topic=self.topic,
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
            pipelines=pipelines,
            retraining_namespace=self.retraining.metrics_namespace if self.retraining else None,
        )
        cdk.CfnOutput(self, "MonitoringTopicArn", value=self.topic.topic_arn)
