"""dev, staging, prod and the delivery pipeline in four accounts: the grants and trusts that cross-account deploys
and the Train step need, as CloudFormation will create them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import CROSS_ACCOUNT, SynthesizedApp

REGION = "eu-west-1"
TARGETS = ("dev", "staging", "prod")
DELIVERY = CROSS_ACCOUNT["delivery"]


def bootstrap_role(env: str, kind: str) -> dict[str, Any]:
    """The ARN CDK Pipelines writes for a target account's bootstrap role (partition from the stack)."""
    account = CROSS_ACCOUNT[env]
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/cdk-hnb659fds-{kind}-{account}-{REGION}"],
        ]
    }


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_allowing(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow" and action in as_list(s["Action"])]


def assumable(template: dict[str, Any], role: str) -> list[Any]:
    """The roles that the identity policies of ``role`` (a logical id) allow it to assume."""
    return [
        resource
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in statements_allowing(policy["Properties"]["PolicyDocument"], "sts:AssumeRole")
        for resource in as_list(statement["Resource"])
    ]


@pytest.fixture(scope="module")
def delivery(cross_account_app: SynthesizedApp) -> dict[str, Any]:
    return cross_account_app.templates[("delivery", "delivery")]


def test_each_stack_is_synthesized_for_its_own_account(cross_account_app: SynthesizedApp) -> None:
    for (stage, _), artifact in cross_account_app.stack_artifacts.items():
        expected = CROSS_ACCOUNT[stage]
        assert artifact.environment.account == expected, artifact.stack_name


def test_the_pipeline_deploys_each_environment_as_that_accounts_bootstrap_roles(delivery: dict[str, Any]) -> None:
    (pipeline,) = resources(delivery, "AWS::CodePipeline::Pipeline").values()
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}
    for env in TARGETS:
        deploys = [a for a in stages[env]["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"]
        assert deploys, env
        for action in deploys:
            assert action["RoleArn"] == bootstrap_role(env, "deploy-role"), action["Name"]
            if action["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE":  # CloudFormation runs as cfn-exec
                assert action["Configuration"]["RoleArn"] == bootstrap_role(env, "cfn-exec-role"), action["Name"]
    pipeline_role = pipeline["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assumed = assumable(delivery, pipeline_role)
    for env in TARGETS:
        assert bootstrap_role(env, "deploy-role") in assumed, env


def test_target_deploy_roles_can_read_the_artifacts_and_decrypt_them(delivery: dict[str, Any]) -> None:
    (pipeline,) = resources(delivery, "AWS::CodePipeline::Pipeline").values()
    store = pipeline["Properties"]["ArtifactStore"]
    bucket = store["Location"]["Ref"]
    key = store["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    (bucket_policy,) = [
        p for p in resources(delivery, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    readers = [
        principal
        for s in statements_allowing(bucket_policy["Properties"]["PolicyDocument"], "s3:GetObject*")
        for principal in as_list(s["Principal"]["AWS"])
    ]
    key_users = [
        principal
        for s in statements_allowing(
            resources(delivery, "AWS::KMS::Key")[key]["Properties"]["KeyPolicy"], "kms:Decrypt"
        )
        for principal in as_list(s["Principal"].get("AWS", []))
    ]
    for env in TARGETS:
        assert bootstrap_role(env, "deploy-role") in readers, env
        assert bootstrap_role(env, "deploy-role") in key_users, env


def test_assets_are_published_into_each_target_account(delivery: dict[str, Any]) -> None:
    publishing = {
        resource
        for policy_id, policy in resources(delivery, "AWS::IAM::Policy").items()
        if "FileRole" in policy_id
        for statement in statements_allowing(policy["Properties"]["PolicyDocument"], "sts:AssumeRole")
        for resource in (r.get("Fn::Sub") for r in as_list(statement["Resource"]) if isinstance(r, dict))
    }
    for env in TARGETS:
        account = CROSS_ACCOUNT[env]
        role = f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-hnb659fds-file-publishing-role-{account}-{REGION}"
        assert role in publishing, env


def test_the_train_step_crosses_into_dev_through_the_starter_role_only(
    cross_account_app: SynthesizedApp, delivery: dict[str, Any]
) -> None:
    dev, starter_arn = CROSS_ACCOUNT["dev"], f"arn:aws:iam::{CROSS_ACCOUNT['dev']}:role/mlops-dev-pipeline-starter"
    (train_role,) = [
        k
        for k, r in resources(delivery, "AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == "mlops-dev-model-train"
    ]
    assert assumable(delivery, train_role) == [starter_arn]
    build = cross_account_app.templates[("dev", "model-build")]
    (starter,) = [
        r
        for r in resources(build, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == "mlops-dev-pipeline-starter"
    ]
    assert starter["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{DELIVERY}:root"},
            "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{DELIVERY}:role/mlops-dev-model-train"}},
        }
    ]
    assert build["Outputs"]["PipelineStarterRoleArn"]["Value"] == starter_arn
    assert dev in starter_arn
    for env in ("staging", "prod"):  # they do not train on push: nothing in their accounts trusts the delivery account
        template = cross_account_app.templates[(env, "model-build")]
        assert DELIVERY not in str(template), env


def test_sagemaker_jobs_read_step_code_from_their_own_accounts_asset_bucket(cross_account_app: SynthesizedApp) -> None:
    for env in TARGETS:
        text = str(cross_account_app.templates[(env, "model-build")])
        assert f"cdk-hnb659fds-assets-{CROSS_ACCOUNT[env]}-{REGION}" in text, env
        others = [CROSS_ACCOUNT[o] for o in (*TARGETS, "delivery") if o != env]
        assert not any(f"cdk-hnb659fds-assets-{account}" in text for account in others), env


def test_the_registry_shares_its_group_model_data_and_key_with_the_serving_accounts_only(
    cross_account_app: SynthesizedApp, synthesized_app: SynthesizedApp
) -> None:
    registry = CROSS_ACCOUNT["dev"]
    serving_roots = [f"arn:aws:iam::{CROSS_ACCOUNT[e]}:root" for e in ("staging", "prod")]
    # the endpoints' host roles, and prod's monitoring job (it reads the live package's baseline)
    host_roles = sorted(
        [
            *(f"arn:aws:iam::{CROSS_ACCOUNT[e]}:role/mlops-{e}-model-host" for e in ("staging", "prod")),
            f"arn:aws:iam::{CROSS_ACCOUNT['prod']}:role/mlops-prod-monitor-job",
        ]
    )
    group = f"arn:aws:sagemaker:eu-west-1:{registry}:model-package-group/mlops-dev-german-credit"
    versions = f"arn:aws:sagemaker:eu-west-1:{registry}:model-package/mlops-dev-german-credit/*"
    cross_account_app.template("dev", "model-build").has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup",
        {"ModelPackageGroupPolicy": {"Statement": Match.array_equals([
            Match.object_like({"Principal": {"AWS": serving_roots}, "Resource": group,
                               "Action": "sagemaker:DescribeModelPackageGroup"}),
            Match.object_like({"Principal": {"AWS": serving_roots}, "Resource": versions, "Action": Match.array_equals(
                ["sagemaker:CreateModel", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"])}),
        ])}},
    )  # fmt: skip
    storage = cross_account_app.template("dev", "storage")
    only_host_roles = {"ArnEquals": {"aws:PrincipalArn": host_roles}}
    model_data = {"Fn::Join": ["", [Match.any_value(), "/pipelines/mlops-dev-model-build/*"]]}
    storage.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "s3:GetObject", "Principal": {"AWS": serving_roots},
                           "Condition": only_host_roles, "Resource": model_data})])}})  # fmt: skip
    artifacts = f"arn:aws:s3:::mlops-dev-artifacts-{registry}-eu-west-1"
    through_s3 = Match.object_like({"kms:EncryptionContext:aws:s3:arn": artifacts})
    storage.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([
        Match.object_like({"Action": "kms:Decrypt", "Principal": {"AWS": serving_roots},
                           "Condition": {**only_host_roles, "StringEquals": through_s3}})])}})  # fmt: skip
    # serving environments of the registry's own account need no resource policy: none is written
    for template in (cross_account_app.template("staging", "model-build"),
                     synthesized_app.template("dev", "model-build")):  # fmt: skip
        for group_resource in template.find_resources("AWS::SageMaker::ModelPackageGroup").values():
            assert "ModelPackageGroupPolicy" not in group_resource["Properties"]


def test_cross_account_retraining_starts_the_registry_pipeline_as_its_starter_role_only(
    cross_account_app: SynthesizedApp,
) -> None:
    registry, prod = CROSS_ACCOUNT["dev"], CROSS_ACCOUNT["prod"]
    build = cross_account_app.template("dev", "model-build")
    build.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "mlops-dev-retraining-starter",
        "AssumeRolePolicyDocument": {"Statement": [{
            "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{prod}:root"},
            "Condition": {"ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{prod}:role/mlops-prod-retraining"]}}}]},
    })  # fmt: skip
    monitoring = cross_account_app.template("prod", "monitoring")
    starter = f"arn:aws:iam::{registry}:role/mlops-dev-retraining-starter"
    monitoring.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"STARTER_ROLE_ARN": starter,
                                                        "PIPELINE_NAME": "mlops-dev-model-build"})}})  # fmt: skip
    # the function's own role may only assume the starter: no SageMaker permission in prod's account
    policies = monitoring.find_resources("AWS::IAM::Policy")
    actions = {a for p in policies.values() for st in p["Properties"]["PolicyDocument"]["Statement"]
               for a in as_list(st["Action"]) if "Retraining" in str(p["Properties"]["Roles"])}  # fmt: skip
    assert "sts:AssumeRole" in actions
    assert not {a for a in actions if a.startswith("sagemaker:")}, actions
