"""The `delivery` stage: deployed once by hand (`cdk deploy 'delivery/*'`); after that every push deploys."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.model import PlatformConfig
from config.naming import DELIVERY_STAGE, delivery_stack_name
from stacks.delivery.stack import DeliveryStack
from stacks.environment_stage import EnvironmentStage


class DeliveryStage(cdk.Stage):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        account: str,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        assets_version: str,
        **kwargs: Any,
    ) -> None:
        if config.delivery is None:
            raise ValueError("DeliveryStage needs config.delivery")
        super().__init__(
            scope, construct_id, env=cdk.Environment(account=account, region=config.delivery.region), **kwargs
        )
        tags = {"project": config.project.name, "environment": DELIVERY_STAGE, "owner": config.project.owner,
                **config.project.tags}  # fmt: skip
        self.delivery = DeliveryStack(
            self,
            "delivery",
            stack_name=delivery_stack_name(config.project.name),
            description=f"{config.project.name}: repository, infrastructure pipeline, model-build CI, notifications",
            config=config,
            environment_stages=environment_stages,
            cli_version=cli_version,
            assets_version=assets_version,
            tags=tags,
            termination_protection=True,
        )
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)
