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
        **kwargs: Any,
    ) -> None:
        """``training_pipeline_name``: the registry's pipeline when it is in this account and region (its failures
        are alarmed here too), else None."""
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
            pipelines=pipelines,
            retraining_namespace=self.retraining.metrics_namespace if self.retraining else None,
        )
        cdk.CfnOutput(self, "MonitoringTopicArn", value=self.topic.topic_arn)
