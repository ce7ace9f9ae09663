"""A custom resource that deletes a model package group's versions before CloudFormation deletes the group."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import custom_resources as cr
from constructs import Construct, IValidation

from stacks.common.powertools import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    POWERTOOLS_VERSION,
    function_code,
    powertools_layer,
)
from stacks.compliance import acknowledge, acknowledge_wildcard_resource

FUNCTION = "model_package_group_cleanup"
RESOURCE_TYPE = "Custom::ModelPackageGroupCleanup"
#: Deleting a few hundred versions takes a few minutes at most, throttled retries and SageMaker's asynchronous
#: deletion included (~0.1-0.5 s a call, 100 versions a list page). The timeout must stay below the 15 minutes
#: after which the Provider framework's own function gives up: the function then always reports its own error.
FUNCTION_TIMEOUT = cdk.Duration.minutes(10)
#: CloudFormation's wait for the custom resource (default 1 hour); the framework always answers within 15 minutes.
SERVICE_TIMEOUT = cdk.Duration.minutes(20)


def deletes_with_stack(group: sagemaker.CfnModelPackageGroup) -> bool:
    """Whether CloudFormation deletes ``group`` when its stack is deleted (its deletion policy is Delete)."""
    policy = group.cfn_options.deletion_policy
    return policy is None or policy == cdk.CfnDeletionPolicy.DELETE


@jsii.implements(IValidation)
class _SameDeletionPolicy:
    """Fails the synth if the group's deletion policy changed after the cleanup resource read it."""

    def __init__(self, group: sagemaker.CfnModelPackageGroup, deletes: bool) -> None:
        self._group, self._deletes = group, deletes

    def validate(self) -> list[str]:
        if deletes_with_stack(self._group) == self._deletes:
            return []
        return [
            f"the removal policy of {self._group.node.path} changed after its ModelPackageGroupCleanup was created: "
            "apply the removal policy first"
        ]


def nag_resource(stack: cdk.Stack, arn: str) -> str:
    """``arn`` as cdk-nag prints it in a finding: the stack's unresolved pseudo parameters as ``<AWS::...>``."""
    pseudo = {"AWS::Partition": stack.partition, "AWS::Region": stack.region, "AWS::AccountId": stack.account}
    for name, value in pseudo.items():
        if cdk.Token.is_unresolved(value):
            arn = arn.replace(value, f"<{name}>")
    return arn


class ModelPackageGroupCleanup(Construct):
    """On stack deletion, deletes every version of ``group`` before CloudFormation deletes the group itself.

    CloudFormation cannot delete a model package group that holds versions, and the versions are registered by
    pipeline runs. The custom resource references the group (``Fn::GetAtt``), so CloudFormation creates it after the
    group and deletes it before. It deletes the versions only when the group's deletion policy is Delete (apply the
    group's removal policy before creating this; the synth fails otherwise): a retained group keeps them.

    Keep this construct in retained environments too, so that switching an environment to ``retain_data: true``
    updates the resource (to keep the versions) instead of removing it: removing it would run its Delete and empty
    the registry of the environment being protected.

    ``log_key`` encrypts the two functions' log groups; it must admit ``logs.<region>.amazonaws.com`` (with a
    ``kms:EncryptionContext:aws:logs:arn`` condition), or the log groups cannot be created. Without it, CloudWatch
    Logs encrypts them with its own keys: they hold ARNs and counts, no data.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: sagemaker.CfnModelPackageGroup,
        log_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        name = group.model_package_group_name
        if not name or cdk.Token.is_unresolved(name):
            raise ValueError(
                f"{self.node.path}: the model package group {group.node.path} needs a literal "
                "model_package_group_name (the cleanup role is scoped to that group's packages)"
            )
        stack = cdk.Stack.of(self)
        deletes = deletes_with_stack(group)
        # Versioned packages are named <group>/<version>. ListModelPackages is authorized on the model-package
        # resource type (Service Authorization Reference), with no documented name for a listing by group.
        packages_arn = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{name}/*")
        listing_arn = stack.format_arn(service="sagemaker", resource="model-package", resource_name="*")

        self.function = self._function(name, log_key, log_retention)
        self.function.add_to_role_policy(
            iam.PolicyStatement(sid="ListPackages", actions=["sagemaker:ListModelPackages"], resources=[listing_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DeleteGroupPackages", actions=["sagemaker:DeleteModelPackage"], resources=[packages_arn]
            )
        )
        policy = self.function.role.node.find_child("DefaultPolicy") if self.function.role else None
        if policy is None:
            raise RuntimeError(f"{self.node.path}: the function's role has no default policy")
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, packages_arn),
            f"Versions of {name} are numbered by SageMaker at registration; the function deletes the versions of "
            "this one group, and only when CloudFormation deletes the group with the stack.",
        )
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, listing_arn),
            "ListModelPackages is read-only and has no documented ARN for a listing by group; limited to model "
            "packages of this account and region (the function always filters by its group).",
        )

        self.provider = self._provider(log_key, log_retention)
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "ModelPackageGroupName": name,
                # The reference orders the resource: created after the group, deleted before it.
                "ModelPackageGroupArn": group.attr_model_package_group_arn,
                "DeletePackagesOnDelete": "true" if deletes else "false",
            },
        )
        self.node.add_validation(_SameDeletionPolicy(group, deletes))

    def _log_group(
        self, construct_id: str, log_key: kms.IKey | None, log_retention: logs.RetentionDays
    ) -> logs.LogGroup:
        return logs.LogGroup(
            self, construct_id, retention=log_retention, encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )  # fmt: skip

    def _function(self, name: str, log_key: kms.IKey | None, log_retention: logs.RetentionDays) -> lambda_.Function:
        log_group = self._log_group("Logs", log_key, log_retention)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Deletes the model packages of {name} before CloudFormation deletes the group",
        )
        function = lambda_.Function(
            self,
            "Function",
            role=role,
            description=f"Deletes the model packages of {name} before CloudFormation deletes the group",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=f"{FUNCTION}.handler.handler",
            code=function_code(FUNCTION),
            layers=[powertools_layer(self, "Powertools")],
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            environment={"POWERTOOLS_SERVICE_NAME": "model-package-group-cleanup"},
            log_group=log_group,
        )
        log_group.grant_write(role)  # instead of the AWSLambdaBasicExecutionRole managed policy
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to {LAMBDA_RUNTIME.name}, the runtime the pinned Powertools layer {POWERTOOLS_VERSION} is "
            "resolved for (its SSM parameter names the Python version); bump both together.",
        )
        return function

    def _provider(self, log_key: kms.IKey | None, log_retention: logs.RetentionDays) -> cr.Provider:
        """CDK's Provider framework: its function invokes ours and sends the response to CloudFormation."""
        log_group = self._log_group("ProviderLogs", log_key, log_retention)
        role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK Provider framework: invokes the model package cleanup function, answers CloudFormation",
        )
        log_group.grant_write(role)  # instead of the AWSLambdaBasicExecutionRole managed policy
        provider = cr.Provider(
            self, "Provider", on_event_handler=self.function, framework_on_event_role=role, log_group=log_group
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{cdk.Stack.of(self).get_logical_id(self._cfn(self.function))}.Arn>:*]",
            "Function.grant_invoke: the Provider framework invokes the cleanup function; ':*' covers its versions "
            "and aliases, of this one function only.",
        )
        return provider

    @staticmethod
    def _cfn(function: lambda_.Function) -> cdk.CfnElement:
        child = function.node.default_child
        if not isinstance(child, cdk.CfnElement):
            raise TypeError(f"{function.node.path} has no CloudFormation resource")
        return child
