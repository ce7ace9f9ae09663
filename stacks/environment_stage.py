"""One `cdk.Stage` per environment: `cdk deploy 'dev/*'` deploys exactly the stacks built here.

It lives beside the stacks (not in app.py) because the infrastructure pipeline adds the very same stage per
environment.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.dataset_spec import DatasetSpec
from config.loader import sample_data_path
from config.model import PlatformConfig
from config.naming import starter_role_name, train_role_name
from sagemaker_code.definition.settings import PipelineSettings
from stacks.model_build.stack import ModelBuildStack
from stacks.model_build.starter_role import StarterTrust
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
        **kwargs: Any,
    ) -> None:
        settings = config.environments[env_name]
        super().__init__(scope, env_name, env=cdk.Environment(account=account, region=settings.region), **kwargs)
        self.env_name = env_name
        tags = config.tags_for(env_name)
        common: dict[str, Any] = {
            "tags": tags,  # stack tags: CloudFormation propagates them to every resource it creates
            "termination_protection": settings.retain_data,
        }

        self.storage = StorageStack(
            self,
            "storage",
            stack_name=config.stack_name(env_name, "storage"),
            description=f"{config.project.name} {env_name}: data key and S3 buckets",
            project=config.project.name,
            env_name=env_name,
            settings=settings.storage,
            retain_data=settings.retain_data,
            **common,
        )

        build = config.model_build
        prefix = config.project.name
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
            **common,
        )

        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)
