"""Guard rails for the delivery branch of a CodeCommit repository.

The infrastructure pipeline deploys whatever the delivery branch says into every target account, including the
removal of the prod approval: push rights to that branch are administrator rights there. Two guard rails:

- an approval rule template, associated with the repository, that makes every pull request into the branch need
  ``approvals`` approvals before it can be merged;
- a customer-managed policy to attach to developer roles (and groups) that denies changing the branch any other way:
  direct pushes, commits through the API or console, branch merges outside pull requests, deleting the branch.

CodeCommit has no CloudFormation resource for approval rule templates, so the template and its association are
custom resources calling the CodeCommit API.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.compliance import acknowledge

#: Every way of changing a branch other than merging an approved pull request (which approval rules gate).
DIRECT_CHANGE_ACTIONS = [
    "codecommit:GitPush",
    "codecommit:PutFile",
    "codecommit:CreateCommit",
    "codecommit:DeleteFile",
    "codecommit:DeleteBranch",
    "codecommit:MergeBranchesByFastForward",
    "codecommit:MergeBranchesBySquash",
    "codecommit:MergeBranchesByThreeWay",
]
APPROVAL_RULE_TEMPLATE_VERSION = "2018-11-08"


def approval_rule_content(branch: str, approvals: int) -> str:
    """The template content CodeCommit's API takes (a JSON document of its own format, with no typed API)."""
    return json.dumps(
        {
            "Version": APPROVAL_RULE_TEMPLATE_VERSION,
            "DestinationReferences": [f"refs/heads/{branch}"],
            "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": approvals}],
        },
        sort_keys=True,
    )


class BranchProtection(Construct):
    """The approval rule template (when ``approvals`` > 0) and ``deny_direct_changes`` (always)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: codecommit.IRepository,
        branch: str,
        approvals: int,
        name_prefix: str,
        log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        ref = f"refs/heads/{branch}"
        self.deny_direct_changes = iam.ManagedPolicy(
            self,
            "DenyDirectChanges",
            managed_policy_name=f"{name_prefix}-deny-direct-changes-to-{branch.replace('/', '-')}"[:128],
            description=f"Attach to developer roles: {branch} of {repository.repository_name} changes only through "
            "approved pull requests",
            statements=[
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    actions=DIRECT_CHANGE_ACTIONS,
                    resources=[repository.repository_arn],
                    # CodeCommit's documented pattern: the reference condition, and Null so that a request without
                    # references (GitPush of tags only) is not denied by accident.
                    conditions={
                        "StringEqualsIfExists": {"codecommit:References": [ref]},
                        "Null": {"codecommit:References": "false"},
                    },
                )
            ],
        )
        self.template_name: str | None = None
        if approvals == 0:
            return
        self.template_name = f"{name_prefix}-{branch.replace('/', '-')}-reviewed"[:100]
        content = approval_rule_content(branch, approvals)
        association_parameters = {
            "approvalRuleTemplateName": self.template_name,
            "repositoryName": repository.repository_name,
        }
        template = cr.AwsCustomResource(
            self,
            "ApprovalRuleTemplate",
            on_create=cr.AwsSdkCall(
                service="CodeCommit",
                action="createApprovalRuleTemplate",
                parameters={
                    "approvalRuleTemplateName": self.template_name,
                    "approvalRuleTemplateContent": content,
                    "approvalRuleTemplateDescription": f"{approvals} approval(s) for pull requests into {branch}",
                },
                physical_resource_id=cr.PhysicalResourceId.of(self.template_name),
            ),
            on_update=cr.AwsSdkCall(
                service="CodeCommit",
                action="updateApprovalRuleTemplateContent",
                parameters={"approvalRuleTemplateName": self.template_name, "newRuleContent": content},
                physical_resource_id=cr.PhysicalResourceId.of(self.template_name),
            ),
            on_delete=cr.AwsSdkCall(
                service="CodeCommit",
                action="deleteApprovalRuleTemplate",
                parameters={"approvalRuleTemplateName": self.template_name},
            ),
            # Approval rule templates have no ARN: CodeCommit authorizes these calls on "*" only.
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=[
                            "codecommit:CreateApprovalRuleTemplate",
                            "codecommit:UpdateApprovalRuleTemplateContent",
                            "codecommit:DeleteApprovalRuleTemplate",
                        ],
                        resources=["*"],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=log_group,
        )
        association = cr.AwsCustomResource(
            self,
            "Association",
            on_create=cr.AwsSdkCall(
                service="CodeCommit",
                action="associateApprovalRuleTemplateWithRepository",
                parameters=association_parameters,
                physical_resource_id=cr.PhysicalResourceId.of(f"{self.template_name}:{repository.repository_name}"),
            ),
            on_delete=cr.AwsSdkCall(
                service="CodeCommit",
                action="disassociateApprovalRuleTemplateFromRepository",
                parameters=association_parameters,
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[repository.repository_arn]),
            install_latest_aws_sdk=False,
            log_group=log_group,
        )
        # Associated after the template exists; on deletion disassociated before the template is deleted.
        association.node.add_dependency(template)
        for resource in (template, association):
            policy = resource.node.find_child("CustomResourcePolicy")
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "CodeCommit authorizes approval rule template calls on '*' only (templates have no ARN); the policy "
                "allows creating, updating and deleting templates, nothing else.",
            )
        self.template = template
        self._acknowledge_provider(cdk.Stack.of(self))

    @staticmethod
    def _acknowledge_provider(stack: cdk.Stack) -> None:
        """cdk-nag findings of the singleton function CDK creates (at the stack's root) for its AwsCustomResources."""
        provider = stack.node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
        if provider is None:
            raise ValueError(f"{stack.node.path}: CDK's AwsCustomResource provider function was not found")
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider function: the AWS managed basic execution policy only lets it write "
            "its own logs; its calls are allowed by the custom resources' own policies.",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "CDK's AwsCustomResource provider function: its Node.js runtime is chosen and kept current by aws-cdk-lib "
            "(bumped with the library), not by this project.",
        )
