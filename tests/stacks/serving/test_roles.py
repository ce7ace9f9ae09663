"""The serving stack's roles: hosting reads only the registry's model data, the deploy flow can only put a model
live through CloudFormation's update role, and that role can only change this endpoint."""

from __future__ import annotations

from aws_cdk.assertions import Template

from config.serving import InstanceEndpoint
from tests.conftest import CROSS_ACCOUNT, SynthesizedApp
from tests.stacks.serving.templates import (
    CONFIG,
    actions_of,
    as_list,
    by_sid,
    endpoint_of,
    role_id,
    statements_of,
)


def test_the_host_role_reads_only_the_registry_model_data(serving: Template, env_name: str) -> None:
    statements = by_sid(statements_of(serving, role_id(serving, f"mlops-{env_name}-model-host")))
    registry = CONFIG.registry_of(env_name)
    bucket = f"arn:aws:s3:::mlops-{registry}-artifacts-123456789012-eu-west-1"
    assert statements["ReadModelData"]["Action"] == "s3:GetObject"
    assert statements["ReadModelData"]["Resource"] == f"{bucket}/pipelines/mlops-{registry}-model-build/*"
    decrypt = statements["DecryptModelData"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", ["s3.eu-west-1.", {"Ref": "AWS::URLSuffix"}]]},
            "kms:EncryptionContext:aws:s3:arn": bucket,
        }
    }
    assert statements["PullModelImage"]["Resource"] == "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"
    capture = "WriteCapturedData" in statements
    endpoint = endpoint_of(env_name)
    assert capture == (isinstance(endpoint, InstanceEndpoint) and endpoint.data_capture is not None)
    if capture:
        assert statements["WriteCapturedData"]["Resource"] == (
            f"arn:aws:s3:::mlops-{env_name}-capture-123456789012-eu-west-1/endpoints/mlops-{env_name}-endpoint/*"
        )
    # nothing else: no write to the registry, no other service
    assert actions_of(list(statements.values())) <= {
        "s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:GetAuthorizationToken",
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
        "cloudwatch:PutMetricData",
    }  # fmt: skip


def test_the_deployer_is_trusted_by_the_registry_deploy_flow_only(serving: Template, env_name: str) -> None:
    role = role_id(serving, f"mlops-{env_name}-model-deployer")
    trust = serving.find_resources("AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    registry = CONFIG.registry_of(env_name)
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::123456789012:role/mlops-{registry}-model-deploy-*"}
            },
        }
    ]


def test_the_deployer_can_only_put_a_model_live_through_the_update_role(serving: Template, env_name: str) -> None:
    statements = by_sid(statements_of(serving, role_id(serving, f"mlops-{env_name}-model-deployer")))
    parameter = f"arn:aws:ssm:eu-west-1:123456789012:parameter/mlops/{env_name}/serving/live-model-package"
    stack = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/mlops-{env_name}-serving/*"
    update_role = f"arn:aws:iam::123456789012:role/mlops-{env_name}-serving-update"
    endpoint = f"arn:aws:sagemaker:eu-west-1:123456789012:endpoint/mlops-{env_name}-endpoint"
    assert statements["LiveModel"]["Resource"] == parameter
    assert statements["UpdateServingStack"] == {
        "Sid": "UpdateServingStack",
        "Effect": "Allow",
        "Action": "cloudformation:UpdateStack",
        "Resource": stack,
        "Condition": {"StringEquals": {"cloudformation:RoleArn": update_role}},
    }
    assert statements["WatchServingStack"]["Resource"] == stack
    assert statements["PassUpdateRole"]["Resource"] == update_role
    assert statements["PassUpdateRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    assert statements["SmokeTest"]["Resource"] == endpoint
    assert actions_of(list(statements.values())) == {
        "ssm:GetParameter", "ssm:PutParameter", "ssm:GetParameters", "cloudformation:UpdateStack",
        "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "iam:PassRole",
        "sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint",
    }  # fmt: skip
    serving.has_output(
        "ModelDeployerRoleArn", {"Value": f"arn:aws:iam::123456789012:role/mlops-{env_name}-model-deployer"}
    )


def test_the_update_role_is_cloudformation_s_and_passes_only_the_host_role(serving: Template, env_name: str) -> None:
    role = role_id(serving, f"mlops-{env_name}-serving-update")
    trust = serving.find_resources("AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "cloudformation.amazonaws.com"}]
    statements = statements_of(serving, role)
    passes = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert passes == [
        {
            "Sid": "PassHostRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::123456789012:role/mlops-{env_name}-model-host",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    ]
    # it manages SageMaker hosting (and its autoscaling); no IAM, CloudFormation, S3 or wildcard action
    services = {a.split(":")[0] for a in actions_of(statements)}
    assert services <= {"sagemaker", "ssm", "iam", "kms", "cloudwatch", "application-autoscaling"}
    assert actions_of(statements) & {a for a in actions_of(statements) if a.startswith("iam:")} <= {
        "iam:PassRole",
        "iam:CreateServiceLinkedRole",
    }
    assert not [a for a in actions_of(statements) if "*" in a]
    endpoint = endpoint_of(env_name)
    scales = isinstance(endpoint, InstanceEndpoint) and endpoint.autoscaling is not None
    assert any(a.startswith("application-autoscaling:") for a in actions_of(statements)) == scales


def test_no_role_of_the_stack_has_a_wildcard_action(serving: Template) -> None:
    for policy in serving.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not [a for a in as_list(statement["Action"]) if a.endswith("*")], statement


def test_cross_account_serving_trusts_and_reads_the_registry_account(cross_account_app: SynthesizedApp) -> None:
    for name in ("staging", "prod"):
        serving = cross_account_app.template(name, "serving")
        account, registry = CROSS_ACCOUNT[name], CROSS_ACCOUNT["dev"]
        deployer = role_id(serving, f"mlops-{name}-model-deployer")
        (trust,) = serving.find_resources("AWS::IAM::Role")[deployer]["Properties"]["AssumeRolePolicyDocument"][
            "Statement"
        ]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{registry}:root"}
        assert (
            trust["Condition"]["ArnLike"]["aws:PrincipalArn"]
            == f"arn:aws:iam::{registry}:role/mlops-dev-model-deploy-*"
        )
        host = by_sid(statements_of(serving, role_id(serving, f"mlops-{name}-model-host")))
        assert host["ReadModelData"]["Resource"].startswith(f"arn:aws:s3:::mlops-dev-artifacts-{registry}-eu-west-1/")
        assert host["DecryptModelData"]["Resource"] == f"arn:aws:kms:eu-west-1:{registry}:key/*"
        update = by_sid(statements_of(serving, role_id(serving, f"mlops-{name}-serving-update")))
        assert update["ModelPackages"]["Resource"] == (
            f"arn:aws:sagemaker:eu-west-1:{registry}:model-package/mlops-dev-german-credit/*"
        )
        assert update["Endpoint"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{account}:endpoint/mlops-{name}-endpoint"


def test_both_update_roles_can_resolve_every_ssm_parameter_of_the_template(serving: Template, env_name: str) -> None:
    """An update resolves every SSM-typed parameter again (CDK's BootstrapVersion too), as the caller and as the
    stack's role: a role that cannot read one fails the deploy flow's update."""
    parameters = [
        f"arn:aws:ssm:eu-west-1:123456789012:parameter/{p['Default'].lstrip('/')}"
        for p in serving.to_json()["Parameters"].values()
        if p["Type"].startswith("AWS::SSM::Parameter::Value")
    ]
    assert len(parameters) == 2  # the live model and CDK's bootstrap version
    for role in (f"mlops-{env_name}-model-deployer", f"mlops-{env_name}-serving-update"):
        resolve = by_sid(statements_of(serving, role_id(serving, role)))["ResolveParameters"]
        assert resolve["Action"] == "ssm:GetParameters"
        assert sorted(as_list(resolve["Resource"])) == sorted(parameters), role
