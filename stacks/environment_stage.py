"""One `cdk.Stage` per environment: `cdk deploy 'dev/*'` deploys exactly the stacks built here.

It lives beside the stacks (not in app.py) because the infrastructure pipeline adds the very same stage per
environment.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.model import PlatformConfig
from stacks.storage_stack import StorageStack


class EnvironmentStage(cdk.Stage):
    """All stacks of one environment, named ``<project>-<env>-<component>`` and tagged from config."""

    def __init__(
        self,
        scope: Construct,
        env_name: str,
        *,
        config: PlatformConfig,
        account: str,
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
            resource_prefix=f"{config.project.name}-{env_name}",
            settings=settings.storage,
            retain_data=settings.retain_data,
            **common,
        )

        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)
