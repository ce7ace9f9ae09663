"""The CloudFormation service role of the deploy flow's updates of the serving stack.

Why a role of its own: ``UpdateStack`` without a role runs as the stack's last role, CDK's CloudFormation execution
role (administrator by default), and nothing in IAM can restrict ``UpdateStack`` to the previous template (there is
no condition key for a template body). The deployer role may therefore update this stack only with this role
(condition ``cloudformation:RoleArn``): whatever template it sent, CloudFormation could do no more than replace this
endpoint's model and endpoint config, update the endpoint and its autoscaling, and pass the model-host role.
``cdk deploy`` keeps using CDK's execution role, and so keeps every other resource of the stack its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.compliance import acknowledge, acknowledge_wildcard_resource
from stacks.serving.registry import RegistrySource

TAG_ACTIONS = ["sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


@dataclass(frozen=True)
class ServedResources:
    """What the update role may change: the endpoint, its roles, key, alarms and live-model parameter."""

    endpoint_name: str
    variant_name: str
    host_role_arn: str
    parameter_arn: str
    #: Every SSM parameter the stack's template resolves (the live model, CDK's bootstrap version).
    resolved_parameter_arns: list[str]
    data_key: kms.IKey
    alarm_names: list[str]
    autoscaling: bool


class ServingUpdateRole(Construct):
    """``role``: trusted by CloudFormation; allowed exactly what an update of the serving stack's live model needs."""

    def __init__(
        self, scope: Construct, construct_id: str, *, role_name: str, served: ServedResources, registry: RegistrySource
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description=f"CloudFormation updates {stack.stack_name} as this role when the deploy flow changes the "
            "live model",
        )
        self.role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=role_name)

        def arn(resource: str, name: str, sep: cdk.ArnFormat = cdk.ArnFormat.SLASH_RESOURCE_NAME) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name, arn_format=sep)

        models, configs = arn("model", "*"), arn("endpoint-config", "*")
        endpoint = arn("endpoint", served.endpoint_name)
        statements = [
            iam.PolicyStatement(
                sid="ResolveParameters", actions=["ssm:GetParameters"], resources=served.resolved_parameter_arns
            ),
            iam.PolicyStatement(
                sid="Models",
                actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel", *TAG_ACTIONS],
                resources=[models],
            ),
            iam.PolicyStatement(
                # CreateModel from a package: AWS's cross-account registry setup grants CreateModel on the versions
                # as well, and the registry's group policy admits exactly these two for a serving account
                sid="ModelPackages",
                actions=["sagemaker:DescribeModelPackage", "sagemaker:CreateModel"],
                resources=[registry.model_packages_arn(stack.partition)],
            ),
            iam.PolicyStatement(
                sid="PassHostRole",
                actions=["iam:PassRole"],
                resources=[served.host_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="EndpointConfigs",
                actions=[
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DeleteEndpointConfig",
                    *TAG_ACTIONS,
                ],
                resources=[configs],
            ),
            iam.PolicyStatement(
                sid="Endpoint",
                actions=[
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                    *TAG_ACTIONS,
                ],
                resources=[endpoint],
            ),
            iam.PolicyStatement(
                sid="VolumeAndCaptureKey",
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=[served.data_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
        if served.alarm_names:
            statements.append(
                iam.PolicyStatement(
                    sid="RollbackAlarms",
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[
                        stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=name,
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for name in served.alarm_names
                    ],
                )
            )
        tracking_alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"TargetTracking-endpoint/{served.endpoint_name}/variant/{served.variant_name}-*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        if served.autoscaling:
            statements += [
                iam.PolicyStatement(
                    sid="AutoScaling",
                    actions=[
                        "application-autoscaling:RegisterScalableTarget",
                        "application-autoscaling:DeregisterScalableTarget",
                        "application-autoscaling:DescribeScalableTargets",
                        "application-autoscaling:PutScalingPolicy",
                        "application-autoscaling:DeleteScalingPolicy",
                        "application-autoscaling:DescribeScalingPolicies",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="TargetTrackingAlarms",
                    actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
                    resources=[tracking_alarms],
                ),
                iam.PolicyStatement(
                    sid="AutoScalingServiceRole",
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        stack.format_arn(
                            service="iam",
                            region="",
                            resource="role",
                            resource_name=f"aws-service-role/{AUTOSCALING_SERVICE}/"
                            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                        )
                    ],
                    conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SERVICE}},
                ),
            ]
        policy = iam.Policy(self, "LiveModelUpdates", statements=statements)
        policy.attach_to_role(self.role)
        acknowledge_wildcard_resource(
            policy,
            models,
            "CloudFormation names each model it creates (a new model replaces the old one, so the name cannot be "
            "fixed); the role can pass only the model-host role to them.",
        )
        acknowledge_wildcard_resource(
            policy,
            configs,
            "CloudFormation names each endpoint config it creates (an endpoint config is immutable, every model "
            "change creates a new one).",
        )
        acknowledge_wildcard_resource(
            policy,
            registry.model_packages_arn(stack.partition),
            "The live version is chosen at deploy time among the registry group's versions; read-only, that one "
            "model package group.",
        )
        if served.autoscaling:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "Application Auto Scaling's scalable targets and policies have generated ids; CloudFormation "
                "registers this endpoint's variant only (the template names it).",
            )
            acknowledge_wildcard_resource(
                policy,
                tracking_alarms,
                "Target tracking creates its alarms with generated suffixes; this endpoint variant's alarms only.",
            )
