"""One `cdk.Stage` per environment: `cdk deploy 'dev/*'` deploys exactly the stacks built here.

It lives beside the stacks (not in app.py) because the infrastructure pipeline adds the very same stage per
environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.dataset_spec import DatasetSpec
from config.loader import sample_data_path
from config.model import PlatformConfig
from config.naming import (
    MODEL_DEPLOY_COMPONENT,
    MONITORING_COMPONENT,
    SERVING_COMPONENT,
    batch_transform_job_prefix,
    bucket_name,
    model_build_pipeline_name,
    model_host_role_name,
    model_package_group_name,
    monitor_job_role_name,
    retraining_function_name,
    retraining_starter_role_name,
    starter_role_name,
    train_role_name,
)
from sagemaker_code.definition.monitoring import MonitorPipelineSettings
from sagemaker_code.definition.settings import PipelineSettings
from stacks.common.model_consumer import ModelConsumer
from stacks.model_build.stack import ModelBuildStack
from stacks.model_build.starter_role import StarterTrust
from stacks.model_deploy.stack import ModelDeployStack
from stacks.model_deploy.targets import serving_targets
from stacks.monitoring.retraining import RetrainingTarget
from stacks.monitoring.stack import MonitoredJob, MonitoringStack
from stacks.serving.registry import RegistrySource
from stacks.serving.stack import ServingStack, served_images
from stacks.storage.stack import StorageStack


class EnvironmentStage(cdk.Stage):
    """All stacks of one environment, named ``<project>-<env>-<component>`` and tagged from config."""

    def __init__(
        self,
        scope: Construct,
        env_name: str,
        *,
        config: PlatformConfig,
        dataset_spec: DatasetSpec,
        pipeline: PipelineSettings,
        definition: str,
        account: str,
        delivery_account: str | None = None,
        accounts: Mapping[str, str] | None = None,
        monitoring: tuple[MonitorPipelineSettings, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """``monitoring``: the monitoring pipeline's settings and definition when the environment is monitored.
        ``accounts``: every environment's account (as the loader resolved them), for a registry environment in
        another account; omitted, an environment without an account in config is in the account of the environments
        without one (``CDK_DEFAULT_ACCOUNT``)."""
        settings = config.environments[env_name]
        super().__init__(scope, env_name, env=cdk.Environment(account=account, region=settings.region), **kwargs)
        self.env_name = env_name
        tags = config.tags_for(env_name)
        common: dict[str, Any] = {
            "tags": tags,  # stack tags: CloudFormation propagates them to every resource it creates
            "termination_protection": settings.retain_data,
        }

        prefix = config.project.name
        served = serving_targets(config, env_name, lambda name: _account_of(config, name, env_name, account, accounts))
        #: Serving environments in other accounts: the registry's resource policies must let them in.
        consumers = [
            ModelConsumer(t.name, t.account, model_readers(config, t.name)) for t in served if t.account != account
        ]
        self.storage = StorageStack(
            self,
            "storage",
            stack_name=config.stack_name(env_name, "storage"),
            description=f"{config.project.name} {env_name}: data key and S3 buckets",
            project=config.project.name,
            env_name=env_name,
            settings=settings.storage,
            retain_data=settings.retain_data,
            serving=settings.serving is not None,
            model_consumers=consumers,
            **common,
        )

        build = config.model_build
        self.model_build = ModelBuildStack(
            self,
            "model-build",
            stack_name=config.stack_name(env_name, "model-build"),
            description=f"{config.project.name} {env_name}: SageMaker model-build pipeline and model registry",
            settings=pipeline,
            definition=definition,
            dataset_spec=dataset_spec.model_dump(mode="json"),
            sample_data=None if build.input_data_prefix else sample_data_path(dataset_spec),
            input_data_prefix=build.input_data_prefix,
            storage=self.storage,
            retain_data=settings.retain_data,
            starter=(
                StarterTrust(starter_role_name(prefix, env_name), delivery_account, train_role_name(prefix, env_name))
                if settings.train_on_push and delivery_account is not None
                else None
            ),
            consumer_accounts=[c.account for c in consumers],
            retraining_starter=_retraining_starter(config, consumers),
            **common,
        )

        self.serving: ServingStack | None = None
        self.monitoring: MonitoringStack | None = None
        if settings.serving is not None:
            registry = config.registry_of(env_name)
            registry_account = _account_of(config, registry, env_name, account, accounts)
            source = RegistrySource(
                project=prefix,
                env_name=registry,
                account=registry_account,
                region=config.environments[registry].region,
                model_package_group_name=model_package_group_name(
                    prefix, registry, build.model_name_for(dataset_spec.name)
                ),
            )
            self.serving = ServingStack(
                self,
                SERVING_COMPONENT,
                stack_name=config.stack_name(env_name, SERVING_COMPONENT),
                description=f"{prefix} {env_name}: SageMaker endpoint of the live model version (from {registry})",
                project=prefix,
                env_name=env_name,
                settings=settings.serving,
                registry=source,
                storage=self.storage,
                model_images=served_images(json.loads(definition)),
                **common,
            )
            if (settings.monitoring is None) != (monitoring is None):
                raise ValueError(f"environments.{env_name}: a monitoring definition goes with a monitoring section")
            self.monitoring = self._monitoring_stack(config, env_name, monitoring, source, dataset_spec, pipeline,
                                                     common)  # fmt: skip

        self.model_deploy: ModelDeployStack | None = None
        if served:  # this environment is the registry of at least one serving environment
            self.model_deploy = ModelDeployStack(
                self,
                MODEL_DEPLOY_COMPONENT,
                stack_name=config.stack_name(env_name, MODEL_DEPLOY_COMPONENT),
                description=f"{prefix} {env_name}: deploy flow of {env_name}'s approved model versions "
                f"({', '.join(target.name for target in served)})",
                project=prefix,
                env_name=env_name,
                model_package_group_name=model_package_group_name(
                    prefix, env_name, build.model_name_for(dataset_spec.name)
                ),
                serving=served,
                storage=self.storage,
                notification_emails=config.delivery.notification_emails if config.delivery else [],
                **common,
            )

        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)

    def _monitoring_stack(  # noqa: PLR0917 - the stage's own pieces, passed on once
        self,
        config: PlatformConfig,
        env_name: str,
        monitoring: tuple[MonitorPipelineSettings, str] | None,
        registry: RegistrySource,
        dataset_spec: DatasetSpec,
        pipeline: PipelineSettings,
        common: dict[str, Any],
    ) -> MonitoringStack:
        """The monitoring stack of a serving environment: health alarms always; the job (``monitoring``: its
        settings and definition) where the environment is monitored. Retraining starts the registry's pipeline (same
        region): directly in this account, else as the registry's retraining starter role. The registry pipeline's
        failures are alarmed by the registry's own monitoring stack, when the registry serves."""
        prefix = config.project.name
        env = config.environments[env_name]
        if env.serving is None:
            raise ValueError(f"environments.{env_name} serves nothing: no monitoring stack")
        here = registry.account == self.account and registry.region == self.region
        training_pipeline = model_build_pipeline_name(prefix, registry.env_name)
        job = None
        if env.monitoring is not None and monitoring is not None:
            target = None
            retraining = env.monitoring.retraining
            if retraining is not None:
                data_prefix = retraining.training_data_prefix or config.model_build.input_data_prefix or ""
                data_bucket = bucket_name(prefix, registry.env_name, "data", registry.account, registry.region)
                target = RetrainingTarget(
                    pipeline_name=training_pipeline,
                    training_data_uri=f"s3://{data_bucket}/{data_prefix}",
                    account=registry.account,
                    starter_role_name=None if here else retraining_starter_role_name(prefix, registry.env_name),
                )
            monitor, definition = monitoring
            job = MonitoredJob(
                settings=env.monitoring,
                monitor=monitor,
                definition=definition,
                dataset_spec=dataset_spec.model_dump(mode="json"),
                hyperparameters=pipeline.hyperparameter_table,
                min_auc=config.model_build.auc_threshold,
                retraining=target,
            )
        what = "monitoring job, alarms, dashboard and retraining" if job else "health alarms and dashboard"
        return MonitoringStack(
            self,
            MONITORING_COMPONENT,
            stack_name=config.stack_name(env_name, MONITORING_COMPONENT),
            description=f"{prefix} {env_name}: {what} of the endpoint",
            project=prefix,
            env_name=env_name,
            health=env.serving.alarms,
            storage=self.storage,
            registry=registry,
            job=job,
            # the registry's own monitoring stack watches its training pipeline: one alarm per pipeline (alarm names
            # are unique per account and region) and CloudWatch metrics stay in their account
            training_pipeline_name=training_pipeline if registry.env_name == env_name else None,
            batch_jobs=batch_transform_job_prefix(prefix, env_name) if env.serving.batch is not None else None,
            **common,
        )


def _retraining_starter(config: PlatformConfig, consumers: list[ModelConsumer]) -> tuple[str, list[str]] | None:
    """The registry's retraining starter role: its name and the retraining function roles of the serving
    environments in other accounts that retrain (None when there is none)."""
    project = config.project.name
    trusted = [
        f"arn:{config.partition}:iam::{c.account}:role/{retraining_function_name(project, c.env_name)}"
        for c in consumers
        if (monitoring := config.environments[c.env_name].monitoring) is not None and monitoring.retraining is not None
    ]
    registries = {config.registry_of(c.env_name) for c in consumers}
    if not trusted or len(registries) != 1:
        return None
    return retraining_starter_role_name(project, registries.pop()), trusted


def model_readers(config: PlatformConfig, env_name: str) -> tuple[str, ...]:
    """The roles of serving environment ``env_name`` that read its registry's model data: the endpoint's host role,
    and the monitoring job's role (the live package's baseline) when the environment is monitored."""
    project = config.project.name
    monitored = config.environments[env_name].monitoring is not None
    return (model_host_role_name(project, env_name), *([monitor_job_role_name(project, env_name)] if monitored else []))


def _account_of(
    config: PlatformConfig, env_name: str, this_env: str, this_account: str, accounts: Mapping[str, str] | None
) -> str:
    """The account ``env_name`` deploys to: ``accounts`` when given, else config, else (no account in config) that of
    the environments without one, i.e. this one's when it has none either, else ``CDK_DEFAULT_ACCOUNT``."""
    if accounts is not None:
        return accounts[env_name]
    configured = config.environments[env_name].account
    if configured is not None:
        return configured
    if config.environments[this_env].account is None:
        return this_account
    default = os.environ.get("CDK_DEFAULT_ACCOUNT")
    if default is None:
        raise ValueError(f"the account of {env_name!r} is not in config and CDK_DEFAULT_ACCOUNT is not set")
    return default
