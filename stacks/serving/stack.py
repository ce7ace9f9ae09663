"""Per-environment serving: the endpoint of the live model version, its guardrails and the roles that change it.

The stack never names a model: it resolves the live-model SSM parameter (created by the storage stack, written by
the registry environment's deploy flow) at every deploy. See :mod:`stacks.serving.endpoint` for why, and the units
of this package for what each resource may do; each unit acknowledges its own cdk-nag findings.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.naming import (
    CAPTURE_PREFIX,
    batch_transform_job_prefix,
    endpoint_name,
    live_model_parameter_name,
    model_deployer_role_name,
    model_host_role_name,
    serving_model_name_prefix,
    serving_update_role_name,
)
from config.serving import InstanceEndpoint, ServingSettings
from stacks.serving.autoscaling import EndpointAutoScaling
from stacks.serving.batch_scoring import ScheduledBatchScoring
from stacks.serving.deployer_role import ModelDeployerRole, deploy_flow_roles
from stacks.serving.endpoint import VARIANT_NAME, LiveEndpoint
from stacks.serving.host_role import ModelHostRole
from stacks.serving.registry import RegistrySource
from stacks.serving.rollback_alarms import RollbackAlarms
from stacks.serving.update_role import ServedResources, ServingUpdateRole
from stacks.storage.stack import StorageStack

ENDPOINT_NAME_OUTPUT = "EndpointName"
DEPLOYER_ROLE_OUTPUT = "ModelDeployerRoleArn"
UPDATE_ROLE_OUTPUT = "ServingUpdateRoleArn"


def served_images(definition: dict[str, Any]) -> list[str]:
    """The container images of the models a pipeline definition registers (``Image`` of its model containers): the
    image the endpoint pulls. The registry is in the serving environment's region (config checks it), so its
    definition names the same image as the registry's."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Image" and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(definition["Steps"])
    if not found:
        raise ValueError("the pipeline definition registers no model container image")
    return sorted(found)


class ServingStack(cdk.Stack):
    """The endpoint ``<project>-<env>-endpoint`` (once a model is live), its rollback alarms and autoscaling, the
    model-host role, the deployer role the deploy flow assumes and the role its stack updates run as."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        env_name: str,
        settings: ServingSettings,
        registry: RegistrySource,
        storage: StorageStack,
        model_images: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if storage.live_model_parameter is None:
            raise ValueError(f"{self.node.path}: the storage stack of {env_name!r} has no live-model parameter")
        self.add_stack_dependency(storage, "the live-model parameter must exist before this stack resolves it")
        name = endpoint_name(project, env_name)
        endpoint = settings.endpoint
        instances = endpoint if isinstance(endpoint, InstanceEndpoint) else None
        capture_bucket = storage.bucket_names["capture"]
        captures = instances is not None and instances.data_capture is not None

        host = ModelHostRole(
            self,
            "ModelHost",
            role_name=model_host_role_name(project, env_name),
            endpoint_name=name,
            registry=registry,
            images=model_images,
            capture=(capture_bucket, f"{CAPTURE_PREFIX}/{name}/", storage.data_key) if captures else None,
        )
        alarms = (
            RollbackAlarms(
                self, "Rollback", endpoint_name=name, variant_name=VARIANT_NAME, deployment=instances.deployment
            )
            if instances is not None
            else None
        )
        self.live = LiveEndpoint(
            self,
            "Live",
            endpoint_name=name,
            parameter_name=live_model_parameter_name(project, env_name),
            model_name_prefix=serving_model_name_prefix(project, env_name),
            endpoint=endpoint,
            host_role_arn=host.role.role_arn,
            volume_key=storage.data_key,
            capture=(capture_bucket, storage.data_key) if captures else None,
            alarms=alarms,
        )
        self.live.model.node.add_dependency(host)  # role and policy: SageMaker checks the role at CreateModel
        if instances is not None and instances.autoscaling is not None:
            EndpointAutoScaling(
                self,
                "AutoScaling",
                endpoint=self.live.endpoint,
                endpoint_name=name,
                variant_name=VARIANT_NAME,
                settings=instances.autoscaling,
                condition=self.live.condition,
            )

        self.batch: ScheduledBatchScoring | None = None
        if settings.batch is not None:
            self.batch = ScheduledBatchScoring(
                self,
                "BatchScoring",
                settings=settings.batch,
                environment=env_name,
                parameter_name=live_model_parameter_name(project, env_name),
                parameter_arn=storage.live_model_parameter.parameter_arn,
                model_name_prefix=serving_model_name_prefix(project, env_name),
                job_name_prefix=batch_transform_job_prefix(project, env_name),
                data_bucket_name=storage.bucket_names["data"],
                data_key=storage.data_key,
                host_role=host.role,
                host_role_arn=host.role_arn,
            )

        # an update resolves every SSM-typed parameter again: the live model's and CDK's bootstrap version
        qualifier = (
            getattr(self.synthesizer, "bootstrap_qualifier", None) or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
        )
        resolved = [
            storage.live_model_parameter.parameter_arn,
            self.format_arn(service="ssm", resource="parameter", resource_name=f"cdk-bootstrap/{qualifier}/version"),
        ]
        update = ServingUpdateRole(
            self,
            "Update",
            role_name=serving_update_role_name(project, env_name),
            served=ServedResources(
                endpoint_name=name,
                variant_name=VARIANT_NAME,
                host_role_arn=host.role_arn,
                parameter_arn=storage.live_model_parameter.parameter_arn,
                resolved_parameter_arns=resolved,
                data_key=storage.data_key,
                alarm_names=[a.alarm_name for a in alarms.alarms] if alarms is not None else [],
                autoscaling=instances is not None and instances.autoscaling is not None,
            ),
            registry=registry,
        )
        deployer = ModelDeployerRole(
            self,
            "Deployer",
            role_name=model_deployer_role_name(project, env_name),
            trusted_account=registry.account,
            trusted_roles=deploy_flow_roles(self.partition, registry.account, project, registry.env_name),
            parameter_arn=storage.live_model_parameter.parameter_arn,
            resolved_parameter_arns=resolved,
            endpoint_name=name,
            update_role_arn=update.role_arn,
        )
        self.endpoint_name = name
        self.host_role = host.role
        self.deployer_role = deployer.role
        self.update_role = update.role
        cdk.CfnOutput(self, ENDPOINT_NAME_OUTPUT, value=name)
        cdk.CfnOutput(self, DEPLOYER_ROLE_OUTPUT, value=deployer.role_arn)
        cdk.CfnOutput(self, UPDATE_ROLE_OUTPUT, value=update.role_arn)
