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
    SERVING_COMPONENT,
    model_host_role_name,
    model_package_group_name,
    starter_role_name,
    train_role_name,
)
from sagemaker_code.definition.settings import PipelineSettings
from stacks.common.model_consumer import ModelConsumer
from stacks.model_build.stack import ModelBuildStack
from stacks.model_build.starter_role import StarterTrust
from stacks.model_deploy.stack import ModelDeployStack
from stacks.model_deploy.targets import serving_targets
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
        **kwargs: Any,
    ) -> None:
        """``accounts``: every environment's account (as the loader resolved them), for a registry environment in
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
            ModelConsumer(t.name, t.account, model_host_role_name(prefix, t.name))
            for t in served
            if t.account != account
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
            **common,
        )

        self.serving: ServingStack | None = None
        if settings.serving is not None:
            registry = config.registry_of(env_name)
            self.serving = ServingStack(
                self,
                SERVING_COMPONENT,
                stack_name=config.stack_name(env_name, SERVING_COMPONENT),
                description=f"{prefix} {env_name}: SageMaker endpoint of the live model version (from {registry})",
                project=prefix,
                env_name=env_name,
                settings=settings.serving,
                registry=RegistrySource(
                    project=prefix,
                    env_name=registry,
                    account=_account_of(config, registry, env_name, account, accounts),
                    region=config.environments[registry].region,
                    model_package_group_name=model_package_group_name(
                        prefix, registry, build.model_name_for(dataset_spec.name)
                    ),
                ),
                storage=self.storage,
                model_images=served_images(json.loads(definition)),
                **common,
            )

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
