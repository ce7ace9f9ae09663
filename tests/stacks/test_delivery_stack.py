"""The delivery stack: repository, self-mutating infrastructure pipeline, model-build CI and notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Capture, Match, Template

from app import build_app, cdk_cli_version, cdk_json_context
from config.loader import DEFAULT_CONFIG_PATH, REPO_ROOT, load_config
from tests.conftest import SynthesizedApp

CONFIG = load_config(DEFAULT_CONFIG_PATH)
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def delivery(synthesized_app: SynthesizedApp) -> Template:
    return synthesized_app.template("pipeline", "delivery")


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {k: dict(v) for k, v in template.find_resources(kind).items()}
    return found


def pipeline_named(template: Template, name: str) -> dict[str, Any]:
    found = [r for r in resources(template, "AWS::CodePipeline::Pipeline").values() if r["Properties"]["Name"] == name]
    assert len(found) == 1, name
    props: dict[str, Any] = found[0]["Properties"]
    return props


def project_named(template: Template, fragment: str) -> dict[str, Any]:
    found = [r["Properties"] for k, r in resources(template, "AWS::CodeBuild::Project").items() if fragment in k]
    assert len(found) == 1, fragment
    props: dict[str, Any] = found[0]
    return props


def test_repository_is_created_encrypted_and_retained(delivery: Template) -> None:
    delivery.has_resource(
        "AWS::CodeCommit::Repository",
        {
            "Properties": {"RepositoryName": "mlops-platform", "KmsKeyId": Match.any_value()},
            "DeletionPolicy": "Retain",
        },
    )


def test_infrastructure_pipeline_stages_follow_config_order_with_approvals(delivery: Template) -> None:
    stages = pipeline_named(delivery, "mlops-infrastructure")["Stages"]
    names = [s["Name"] for s in stages]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    deploy_stages = [n for n in names if n in CONFIG.environments]
    assert deploy_stages == CONFIG.pipeline_stages == ["dev", "staging", "prod"]
    assert CONFIG.delivery is not None
    for stage in stages:
        if stage["Name"] not in CONFIG.environments:
            continue
        first = stage["Actions"][0]
        approval = first["ActionTypeId"]["Category"] == "Approval"
        assert approval is (stage["Name"] in CONFIG.delivery.require_approval), stage["Name"]
        if approval:
            assert first["Name"] == f"Approve-{stage['Name']}"
            # the approval comes before any deployment of that environment
            assert all(a["ActionTypeId"]["Category"] == "Deploy" for a in stage["Actions"][1:])


def test_infrastructure_pipeline_deploys_the_environment_stacks(delivery: Template) -> None:
    stages = {s["Name"]: s for s in pipeline_named(delivery, "mlops-infrastructure")["Stages"]}
    for env in CONFIG.pipeline_stages:
        deployed = {
            a["Configuration"]["StackName"] for a in stages[env]["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"
        }
        assert deployed == {f"mlops-{env}-storage", f"mlops-{env}-model-build"}


def test_synth_step_runs_the_readme_commands(delivery: Template) -> None:
    synth = project_named(delivery, "SynthCdkBuildProject")
    spec = json.loads(synth["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make test", "make synth"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "20"}
    assert synth["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    variables = {v["Name"]: v["Value"] for v in synth["Environment"]["EnvironmentVariables"]}
    assert variables["CDK_DEFAULT_ACCOUNT"] == ACCOUNT


def test_self_mutation_uses_the_pinned_cli(delivery: Template) -> None:
    mutate = project_named(delivery, "SelfMutation")
    spec = json.loads(mutate["Source"]["BuildSpec"])
    assert f"npm install -g aws-cdk@{cdk_cli_version()}" in spec["phases"]["install"]["commands"]
    assert any("deploy pipeline/delivery" in c for c in spec["phases"]["build"]["commands"])


def test_push_trigger_pattern_is_exact(delivery: Template) -> None:
    repo = Capture()
    delivery.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [{"Fn::GetAtt": [repo, "Arn"]}],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": ["main"],
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [Match.string_like_regexp("Trigger"), "Arn"]}})],
        },
    )
    assert resources(delivery, "AWS::CodeCommit::Repository").keys() == {repo.as_string()}


def test_model_build_ci_pipeline(delivery: Template) -> None:
    ci = pipeline_named(delivery, "mlops-dev-model-build-ci")
    assert ci["PipelineType"] == "V2"
    assert [s["Name"] for s in ci["Stages"]] == ["Source", "Test", "Train"]
    source = ci["Stages"][0]["Actions"][0]
    assert source["Configuration"]["PollForSourceChanges"] is False  # started by the trigger function only
    assert source["Configuration"]["BranchName"] == "main"
    test = project_named(delivery, "ModelBuildCidevTest")
    assert test["Source"]["BuildSpec"] == "buildspecs/model-test.yml"
    train_action = ci["Stages"][2]["Actions"][0]
    variables = {v["name"]: v["value"] for v in json.loads(train_action["Configuration"]["EnvironmentVariables"])}
    region = CONFIG.environments["dev"].region
    assert variables == {
        "PIPELINE_NAME": "mlops-dev-model-build",
        "PIPELINE_REGION": region,
        "STARTER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-pipeline-starter",
    }


def test_codebuild_projects_are_pinned_encrypted_and_log_with_retention(delivery: Template) -> None:
    assert CONFIG.delivery is not None
    groups = resources(delivery, "AWS::Logs::LogGroup")
    for logical_id, project in resources(delivery, "AWS::CodeBuild::Project").items():
        props = project["Properties"]
        assert props["Environment"]["Image"].startswith("aws/codebuild/standard:7.0"), logical_id
        assert props["EncryptionKey"], logical_id
        group = props.get("LogsConfig", {}).get("CloudWatchLogs", {}).get("GroupName")
        if group is not None:
            assert groups[group["Ref"]]["Properties"]["RetentionInDays"] == CONFIG.delivery.log_retention_days
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == CONFIG.delivery.log_retention_days, logical_id
        assert "KmsKeyId" in group["Properties"], logical_id


def test_artifacts_are_kms_encrypted(delivery: Template) -> None:
    for props in (pipeline_named(delivery, n) for n in ("mlops-infrastructure", "mlops-dev-model-build-ci")):
        assert props["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


def statements(template: Template, fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in resources(template, "AWS::IAM::Policy").items()
        if fragment in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_no_action_wildcards(delivery: Template) -> None:
    for logical_id, policy in resources(delivery, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(a == "*" or a.endswith(":*") for a in actions_of(statement)), (logical_id, statement)


def test_trigger_function_may_diff_the_repository_and_start_its_pipeline_only(delivery: Template) -> None:
    granted = {a: s["Resource"] for s in statements(delivery, "ModelBuildCidevTriggerRole") for a in actions_of(s)}
    assert set(granted) == {"codecommit:GetDifferences", "codepipeline:StartPipelineExecution", "logs:CreateLogStream",
                            "logs:PutLogEvents"}  # fmt: skip
    repository = granted["codecommit:GetDifferences"]["Fn::GetAtt"]
    assert repository[1] == "Arn"
    assert repository[0] in resources(delivery, "AWS::CodeCommit::Repository")
    start = granted["codepipeline:StartPipelineExecution"]["Fn::Join"][1]
    assert start[0] == f"arn:aws:codepipeline:{CONFIG.environments['dev'].region}:{ACCOUNT}:"
    assert (
        pipeline_named(delivery, "mlops-dev-model-build-ci")
        == resources(delivery, "AWS::CodePipeline::Pipeline")[start[1]["Ref"]]["Properties"]
    )


def test_train_stage_only_assumes_the_environments_starter_role(delivery: Template) -> None:
    train = statements(delivery, "ModelBuildCidevTrainRole")
    assume = [s for s in train if "sts:AssumeRole" in actions_of(s)]
    assert [s["Resource"] for s in assume] == [f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-pipeline-starter"]
    assert not any(a.startswith("sagemaker:") for s in train for a in actions_of(s))


def test_starter_role_trusts_only_the_train_role(synthesized_app: SynthesizedApp) -> None:
    build = synthesized_app.template("dev", "model-build")
    build.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "mlops-dev-pipeline-starter",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Condition": {
                            "ArnEquals": {
                                "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-model-build-train"
                            }
                        },
                    }
                ]
            },
        },
    )
    region = CONFIG.environments["dev"].region
    pipeline_arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:pipeline/mlops-dev-model-build"
    build.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["sagemaker:DescribePipeline", "sagemaker:StartPipelineExecution"],
                        "Effect": "Allow",
                        "Resource": pipeline_arn,
                    },
                    {
                        "Action": [
                            "sagemaker:DescribePipelineExecution",
                            "sagemaker:ListPipelineExecutionSteps",
                            "sagemaker:StopPipelineExecution",
                        ],
                        "Effect": "Allow",
                        "Resource": f"{pipeline_arn}/execution/*",
                    },
                ]
            }
        },
    )
    # environments that do not train on push have no starter role
    staging = synthesized_app.template("staging", "model-build")
    assert not [r for r in resources(staging, "AWS::IAM::Role").values() if "RoleName" in r["Properties"]]


def test_notifications(delivery: Template) -> None:
    assert CONFIG.delivery is not None
    topic = Capture()
    delivery.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}})
    for email in CONFIG.delivery.notification_emails:
        delivery.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": email, "TopicArn": {"Ref": topic}}
        )
    rules = [r["Properties"] for r in resources(delivery, "AWS::Events::Rule").values()]
    failures = [r for r in rules if r["EventPattern"].get("detail", {}).get("state") == ["FAILED"]]
    assert len(failures) == 2  # the infrastructure pipeline and dev's model-build CI
    successes = [r for r in rules if r["EventPattern"].get("detail", {}).get("state") == ["SUCCEEDED"]]
    assert [r["EventPattern"]["detail"]["stage"] for r in successes] == [["prod"]]
    for rule in failures + successes:
        assert rule["Targets"][0]["Arn"] == {"Ref": topic.as_string()}


def synth_variant(tmp_path: Path, edit: Any) -> Template:
    """Synthesize the whole app with an edited copy of the shipped config; returns the delivery template."""
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["model_build"]["dataset_spec"] = str(REPO_ROOT / "config" / data["model_build"]["dataset_spec"])
    edit(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    app = cdk.App(context={**cdk_json_context(), "config": str(path)}, outdir=str(tmp_path / "out"))
    stages = build_app(app)
    app.synth()
    assert stages.delivery is not None
    return Template.from_stack(stages.delivery.delivery)


def test_codeconnections_source_uses_the_v2_trigger_with_path_filters(tmp_path: Path) -> None:
    arn = "arn:aws:codeconnections:eu-west-1:123456789012:connection/12345678-1234-1234-1234-123456789012"

    def use_connection(data: dict[str, Any]) -> None:
        data["delivery"]["source"] = {"connection": {"arn": arn, "repository": "my-org/mlops"}}

    template = synth_variant(tmp_path, use_connection)
    assert not resources(template, "AWS::CodeCommit::Repository")
    assert not [k for k in resources(template, "AWS::Lambda::Function") if "Trigger" in k]
    ci = pipeline_named(template, "mlops-dev-model-build-ci")
    assert ci["Triggers"] == [
        {
            "ProviderType": "CodeStarSourceConnection",
            "GitConfiguration": {
                "SourceActionName": "Source",
                "Push": [
                    {
                        "Branches": {"Includes": ["main"]},
                        "FilePaths": {"Includes": CONFIG.environments["dev"].train_on_push.paths},  # type: ignore[union-attr]
                    }
                ],
            },
        }
    ]
    source = ci["Stages"][0]["Actions"][0]
    assert source["Configuration"]["ConnectionArn"] == arn
    assert source["Configuration"]["FullRepositoryId"] == "my-org/mlops"
