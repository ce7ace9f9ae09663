"""Continuous delivery, in the delivery (tooling) account: the repository and its guard rails, the delivery pipeline
that rolls every environment out in order and trains where config asks for it, and the notifications of all of it.

The stack wires the units of stacks/delivery/ together; each unit creates its resources and acknowledges their
cdk-nag findings itself.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from constructs import Construct

from config.model import PlatformConfig
from config.naming import (
    delivery_key_alias,
    delivery_log_group_prefix,
    delivery_pipeline_name,
    notifications_key_alias,
)
from stacks.delivery.artifact_store import ArtifactStore
from stacks.delivery.branch_protection import BranchProtection
from stacks.delivery.delivery_pipeline import DeliveryPipeline, Rollout
from stacks.delivery.notifications import PipelineNotifications
from stacks.delivery.push_trigger import PushTrigger
from stacks.environment_stage import EnvironmentStage


class DeliveryStack(cdk.Stack):
    """Artifact store, repository (+ branch protection), delivery pipeline (+ push trigger), notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment_stages: dict[str, EnvironmentStage],
        cli_version: str,
        assets_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        delivery = config.delivery
        if delivery is None:
            raise ValueError("DeliveryStack needs config.delivery")
        prefix = config.project.name

        self.store = ArtifactStore(
            self,
            "ArtifactStore",
            key_alias=delivery_key_alias(prefix),
            description=f"{prefix}: repository, delivery pipeline artifacts and build logs",
            log_group_prefix=delivery_log_group_prefix(prefix),
            log_retention_days=delivery.log_retention_days,
        )
        self.notifications = PipelineNotifications(
            self, "Notifications", emails=list(delivery.notification_emails), alias=notifications_key_alias(prefix)
        )
        self.repository = self._repository(config)

        self.delivery_pipeline = DeliveryPipeline(
            self,
            "DeliveryPipeline",
            pipeline_name=delivery_pipeline_name(prefix),
            rollout=Rollout(
                project=prefix,
                branch=delivery.branch,
                stages=[environment_stages[name] for name in config.pipeline_stages],
                require_approval=frozenset(delivery.require_approval),
                train_on_push=frozenset(name for name, env in config.environments.items() if env.train_on_push),
            ),
            repository=self.repository,
            connection=delivery.source.connection,
            store=self.store,
            cli_version=cli_version,
            assets_version=assets_version,
        )
        codepipeline = self.delivery_pipeline.pipeline.pipeline
        self.notifications.on_pipeline_failure(codepipeline)
        for env_name in delivery.notify_on_success:
            self.notifications.on_stage_success(codepipeline, env_name)

        self.push_trigger: PushTrigger | None = None
        self.branch_protection: BranchProtection | None = None
        if self.repository is not None:
            self.push_trigger = PushTrigger(
                self,
                "PushTrigger",
                repository=self.repository,
                branch=delivery.branch,
                pipeline=codepipeline,
                key=self.notifications.key,
            )
            self.notifications.on_alarm(self.push_trigger.alarm)
            self.branch_protection = BranchProtection(
                self,
                "BranchProtection",
                repository=self.repository,
                branch=delivery.branch,
                approvals=delivery.pull_request_approvals,
                name_prefix=prefix,
                log_group=self.store.log_group("CustomResourceLogs"),
            )
            cdk.CfnOutput(
                self,
                "DenyDirectChangesPolicyArn",
                value=self.branch_protection.deny_direct_changes.managed_policy_arn,
                description=f"Attach to developer roles: changes to {delivery.branch} only through approved pull "
                "requests",
            )

    def _repository(self, config: PlatformConfig) -> codecommit.IRepository | None:
        """The CodeCommit repository (created and retained, or an existing one), or None for CodeConnections."""
        source = config.delivery.source if config.delivery else None
        if source is None or source.connection is not None:
            return None
        if source.repository_name:
            repository = codecommit.Repository(
                self,
                "Repository",
                repository_name=source.repository_name,
                description=f"{config.project.name}: infrastructure and model code",
                kms_key=self.store.key,
            )
            repository.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            return repository
        return codecommit.Repository.from_repository_name(self, "Repository", source.codecommit_name)
