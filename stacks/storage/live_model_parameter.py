"""The SSM parameter naming the model package live in a serving environment, created so that no deploy resets it.

Why not an ``AWS::SSM::Parameter``: CloudFormation would own its value (``none``). The deploy flow overwrites that
value with the live package's ARN, and the next update of this stack that touches the resource - a tag added in the
config (stack tags reach every resource), a description, a CDK upgrade - would write ``none`` back. The serving stack
resolves the parameter at every deploy, so its next deploy would then delete the endpoint: ``cdk deploy`` would
undeploy the live model.

Instead a custom resource calls ``PutParameter`` with ``Overwrite: false`` on create *and* on update, ignoring
``ParameterAlreadyExists``: it can create the parameter when it is missing and can never change an existing value,
whatever changes in this template. The custom resource's physical id is the parameter name, so an update never
replaces it (a replacement would run the old resource's delete). Its logical id is pinned for the same reason: a new
logical id is a new resource, and CloudFormation deletes the old one after creating the new.

On deletion: environments that keep their data (``retain_data``) keep the parameter too, like the model package group
it points into; throw-away environments delete it, so that a re-created environment starts with no model instead of
the ARN of a package deleted with the old one.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from config.naming import NO_LIVE_MODEL
from stacks.compliance import acknowledge

#: Pinned logical id of the custom resource (see the module docstring: a new one would delete the parameter).
LOGICAL_ID = "LiveModelParameter"
RESOURCE_TYPE = "Custom::LiveModelParameter"


class LiveModelParameter(Construct):
    """Creates the SSM String parameter ``parameter_name`` with value ``none`` if it does not exist; never updates it;
    deletes it with the stack only when ``retain`` is false."""

    def __init__(self, scope: Construct, construct_id: str, *, parameter_name: str, retain: bool) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.parameter_name = parameter_name
        self.parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/")
        )
        create = cr.AwsSdkCall(
            service="SSM",
            action="putParameter",
            parameters={
                "Name": parameter_name,
                "Value": NO_LIVE_MODEL,
                "Type": "String",
                "Overwrite": False,  # the whole point: an existing value (the live model) is never replaced
                "Description": "ARN of the model package version live on this environment's endpoint, or 'none'. "
                "Written by the deploy flow; read by the serving stack at every deploy.",
            },
            physical_resource_id=cr.PhysicalResourceId.of(parameter_name),
            ignore_error_codes_matching="ParameterAlreadyExists",
        )
        delete = (
            None
            if retain
            else cr.AwsSdkCall(
                service="SSM",
                action="deleteParameter",
                parameters={"Name": parameter_name},
                ignore_error_codes_matching="ParameterNotFound",
            )
        )
        actions = ["ssm:PutParameter"] if retain else ["ssm:PutParameter", "ssm:DeleteParameter"]
        self.resource = cr.AwsCustomResource(
            self,
            "Resource",
            resource_type=RESOURCE_TYPE,
            on_create=create,
            on_update=create,  # the same never-overwriting call: an update cannot reset the live model
            on_delete=delete,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=actions, resources=[self.parameter_arn])]
            ),
            install_latest_aws_sdk=False,  # deploy offline from the SDK in the Lambda runtime, no npm at deploy
            # its own log group with a retention (it logs the SDK calls: a parameter name, no data)
            log_group=logs.LogGroup(
                self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=cdk.RemovalPolicy.DESTROY
            ),
        )
        child = self.resource.node.find_child("Resource").node.default_child
        if not isinstance(child, cdk.CfnResource):
            raise TypeError(f"{self.node.path}: the custom resource has no CloudFormation resource")
        child.override_logical_id(LOGICAL_ID)
        self._acknowledge(stack)

    def _acknowledge(self, stack: cdk.Stack) -> None:
        """cdk-nag findings of CDK's shared AwsCustomResource function (one per stack)."""
        for child in stack.node.children:
            if child.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287"):
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's AwsCustomResource function writes its own logs with the AWS managed basic execution "
                    "policy; its only other permission is PutParameter (DeleteParameter) on this one parameter.",
                )
                acknowledge(
                    child,
                    "AwsSolutions-L1",
                    "CDK's AwsCustomResource function: CDK pins its Node.js runtime per release; it makes one SSM call "
                    "per stack operation.",
                )
