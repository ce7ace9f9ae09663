"""The delivery stack: repository and guard rails, the self-mutating infrastructure pipeline with its Train steps,
the push trigger and notifications."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
import yaml
from aws_cdk.assertions import Capture, Match, Template
from botocore.validate import ParamValidator

from app import build_app, cdk_json_context, npm_pin
from config.loader import DEFAULT_CONFIG_PATH, REPO_ROOT, load_config
from config.naming import FINGERPRINT_OUTPUT, WAIT_SECONDS_OUTPUT
from stacks.delivery.build_environment import NODE_END_OF_LIFE, RUNTIME_VERSIONS
from tests.app_components import components
from tests.conftest import SynthesizedApp
from tests.event_patterns import concrete, event, matches

CONFIG = load_config(DEFAULT_CONFIG_PATH)
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def delivery(synthesized_app: SynthesizedApp) -> Template:
    return synthesized_app.template("delivery", "delivery")


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
    stages = pipeline_named(delivery, "mlops-delivery")["Stages"]
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
            # the approval comes before any deployment (or training) of that environment
            assert all(a["RunOrder"] > first["RunOrder"] for a in stage["Actions"][1:])


def test_infrastructure_pipeline_deploys_the_environment_stacks(delivery: Template) -> None:
    stages = {s["Name"]: s for s in pipeline_named(delivery, "mlops-delivery")["Stages"]}
    for env in CONFIG.pipeline_stages:
        deployed = {
            a["Configuration"]["StackName"] for a in stages[env]["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"
        }
        assert deployed == {f"mlops-{env}-{component}" for component in components(CONFIG, env)}


def buildspec(template: Template, fragment: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(project_named(template, fragment)["Source"]["BuildSpec"])
    return spec


def test_synth_step_runs_the_readme_commands(delivery: Template) -> None:
    synth = project_named(delivery, "SynthCdkBuildProject")
    spec = json.loads(synth["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make test", "make synth"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": RUNTIME_VERSIONS["nodejs"]}
    assert synth["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    variables = {v["Name"]: v["Value"] for v in synth["Environment"]["EnvironmentVariables"]}
    assert variables["CDK_DEFAULT_ACCOUNT"] == ACCOUNT


def test_no_build_runs_an_end_of_life_node(delivery: Template) -> None:
    today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    selected = set()
    for logical_id, project in resources(delivery, "AWS::CodeBuild::Project").items():
        runtimes = json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["install"]["runtime-versions"]
        assert "nodejs" in runtimes, f"{logical_id} runs the image's default Node.js, which changes under us"
        selected.add(str(runtimes["nodejs"]))
    for version in selected:
        assert version in NODE_END_OF_LIFE, f"Node.js {version} is not an LTS line we know the end of life of"
        assert today <= NODE_END_OF_LIFE[version], (
            f"Node.js {version} reached end of life on {NODE_END_OF_LIFE[version]}"
        )


def test_self_mutation_and_asset_publishing_use_the_pinned_tools(delivery: Template) -> None:
    spec = buildspec(delivery, "SelfMutation")
    assert f"npm install -g aws-cdk@{npm_pin('aws-cdk')}" in spec["phases"]["install"]["commands"]
    assert any("deploy delivery/delivery" in c for c in spec["phases"]["build"]["commands"])
    publishers = [k for k in resources(delivery, "AWS::CodeBuild::Project") if "FileAsset" in k]
    assert publishers
    for logical_id in publishers:
        commands = buildspec(delivery, logical_id)["phases"]["install"]["commands"]
        assert f"npm install -g cdk-assets@{npm_pin('cdk-assets')}" in commands, logical_id


def infrastructure_stage(template: Template, name: str) -> dict[str, Any]:
    stages = {s["Name"]: s for s in pipeline_named(template, "mlops-delivery")["Stages"]}
    stage: dict[str, Any] = stages[name]
    return stage


def test_train_steps_run_after_their_environment_is_deployed(delivery: Template) -> None:
    for env in CONFIG.pipeline_stages:
        actions = infrastructure_stage(delivery, env)["Actions"]
        trains = [a for a in actions if a["Name"] == f"Train-{env}"]
        assert len(trains) == (1 if CONFIG.environments[env].train_on_push else 0), env
        for train in trains:
            deploys = [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
            assert train["RunOrder"] > max(a["RunOrder"] for a in deploys)
            # it gets the source and the cloud assembly of the same pipeline execution
            assert {a["Name"] for a in train["InputArtifacts"]} == {
                "Synth_Output",
                infrastructure_stage(delivery, "Source")["Actions"][0]["OutputArtifacts"][0]["Name"],
            }
            variables = json.loads(train["Configuration"]["EnvironmentVariables"])
            namespace = infrastructure_stage(delivery, "Source")["Actions"][0]["Namespace"]
            assert variables == [{"name": "COMMIT_ID", "type": "PLAINTEXT", "value": f"#{{{namespace}.CommitId}}"}]


def test_train_step_command_role_and_timeout(delivery: Template, synthesized_app: SynthesizedApp) -> None:
    spec = buildspec(delivery, "Traindev")
    assert spec["phases"]["build"]["commands"] == [
        'python -m tools.run_sagemaker_pipeline --cloud-assembly cdk.out --stage dev --commit "$COMMIT_ID"'
    ]
    assert (
        "pip install --quiet --require-hashes --requirement requirements-train.txt"
        in spec["phases"]["install"]["commands"]
    )
    outputs = synthesized_app.templates[("dev", "model-build")]["Outputs"]
    wait_minutes = int(outputs[WAIT_SECONDS_OUTPUT]["Value"]) / 60
    assert project_named(delivery, "Traindev")["TimeoutInMinutes"] > wait_minutes  # the tool stops first
    (role,) = delivery.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": "mlops-dev-model-train"}})
    assert project_named(delivery, "Traindev")["ServiceRole"] == {"Fn::GetAtt": [role, "Arn"]}
    granted = role_statements(delivery, role)
    assume = [s for s in granted if "sts:AssumeRole" in actions_of(s)]
    assert [s["Resource"] for s in assume] == [f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-pipeline-starter"]
    assert not any(a.startswith("sagemaker:") for s in granted for a in actions_of(s))


def test_codebuild_projects_are_pinned_encrypted_and_log_with_retention(delivery: Template) -> None:
    assert CONFIG.delivery is not None
    groups = resources(delivery, "AWS::Logs::LogGroup")
    for logical_id, project in resources(delivery, "AWS::CodeBuild::Project").items():
        props = project["Properties"]
        assert props["Environment"]["Image"].startswith("aws/codebuild/standard:7.0"), logical_id
        assert props["EncryptionKey"], logical_id
        group = props.get("LogsConfig", {}).get("CloudWatchLogs", {}).get("GroupName")
        assert group is not None, logical_id
        assert groups[group["Ref"]]["Properties"]["RetentionInDays"] == CONFIG.delivery.log_retention_days
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == CONFIG.delivery.log_retention_days, logical_id
        assert group["Properties"]["LogGroupName"].startswith("/mlops/delivery/"), logical_id
        assert "KmsKeyId" in group["Properties"], logical_id


def test_artifacts_are_kms_encrypted(delivery: Template) -> None:
    assert pipeline_named(delivery, "mlops-delivery")["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


def statements(template: Template, fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in resources(template, "AWS::IAM::Policy").items()
        if fragment in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def role_statements(template: Template, role: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies attached to the role ``role`` (a logical id)."""
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_no_action_wildcards(delivery: Template) -> None:
    for logical_id, policy in resources(delivery, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(a == "*" or a.endswith(":*") for a in actions_of(statement)), (logical_id, statement)


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
                            "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-model-train"}
                        },
                    }
                ]
            },
        },
    )
    region = CONFIG.environments["dev"].region
    pipeline_arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:pipeline/mlops-dev-model-build"
    granted: dict[str, Any] = {}
    for logical_id, policy in resources(build, "AWS::IAM::Policy").items():
        if "PipelineStarter" in logical_id:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                granted.update(dict.fromkeys(actions_of(statement), statement["Resource"]))
    assert granted == {
        "sagemaker:StartPipelineExecution": pipeline_arn,
        "sagemaker:ListPipelineExecutions": pipeline_arn,
        "sagemaker:DescribePipelineExecution": f"{pipeline_arn}/execution/*",
        "sagemaker:DescribePipelineDefinitionForExecution": f"{pipeline_arn}/execution/*",
        "sagemaker:ListPipelineExecutionSteps": f"{pipeline_arn}/execution/*",
        "sagemaker:ListPipelineParametersForExecution": f"{pipeline_arn}/execution/*",
        "sagemaker:StopPipelineExecution": f"{pipeline_arn}/execution/*",
    }
    outputs = synthesized_app.templates[("dev", "model-build")]["Outputs"]
    assert outputs["PipelineStarterRoleArn"]["Value"] == f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-pipeline-starter"
    assert len(outputs[FINGERPRINT_OUTPUT]["Value"]) == 64
    # environments that do not train on push have no starter role
    staging = synthesized_app.template("staging", "model-build")
    assert not [r for r in resources(staging, "AWS::IAM::Role").values() if "RoleName" in r["Properties"]]


def rule_with(template: Template, fragment: str) -> dict[str, Any]:
    found = [r["Properties"] for k, r in resources(template, "AWS::Events::Rule").items() if fragment in k]
    assert len(found) == 1, fragment
    props: dict[str, Any] = found[0]
    return props


REPOSITORY_ARN = f"arn:aws:codecommit:eu-west-1:{ACCOUNT}:mlops-platform"


def push(event_name: str, reference: str, reference_type: str = "branch") -> dict[str, Any]:
    return event(
        "aws.codecommit",
        "CodeCommit Repository State Change",
        {
            "event": event_name,
            "repositoryName": "mlops-platform",
            "repositoryId": "12345678-1234-1234-1234-123456789012",
            "referenceType": reference_type,
            "referenceName": reference,
            "referenceFullName": f"refs/heads/{reference}",
            "commitId": "a" * 40,
            "oldCommitId": "b" * 40,
        },
        resources=[REPOSITORY_ARN],
    )


def test_pushes_to_the_delivery_branch_start_the_pipeline_and_undeliverable_ones_are_kept(delivery: Template) -> None:
    rule = rule_with(delivery, "PushTriggerOnPush")
    repository = next(iter(resources(delivery, "AWS::CodeCommit::Repository")))
    pattern = concrete(rule["EventPattern"], {json.dumps({"Fn::GetAtt": [repository, "Arn"]}): REPOSITORY_ARN})
    assert matches(pattern, push("referenceUpdated", "main"))
    assert matches(pattern, push("referenceCreated", "main"))  # the first push to an empty repository
    assert not matches(pattern, push("referenceDeleted", "main"))
    assert not matches(pattern, push("referenceUpdated", "feature/x"))
    assert not matches(pattern, push("referenceCreated", "main", reference_type="tag"))
    other = push("referenceUpdated", "main")
    other["resources"] = [f"arn:aws:codecommit:eu-west-1:{ACCOUNT}:another-repository"]
    assert not matches(pattern, other)

    (target,) = rule["Targets"]
    pipeline = next(iter(resources(delivery, "AWS::CodePipeline::Pipeline")))
    assert target["Arn"]["Fn::Join"][1][-1] == {"Ref": pipeline}
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    key = resources(delivery, "AWS::SQS::Queue")[queue]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    topic = next(iter(resources(delivery, "AWS::SNS::Topic").values()))
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] == key  # the notifications key admits EventBridge
    delivery.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": Match.any_value()}],
        },
    )
    # CodePipeline's own trigger is off: the rule above is the only way a push starts the pipeline
    source = infrastructure_stage(delivery, "Source")["Actions"][0]
    assert source["Configuration"]["PollForSourceChanges"] is False
    assert len([r for r in resources(delivery, "AWS::Events::Rule").values()
                if r["Properties"]["EventPattern"].get("source") == ["aws.codecommit"]]) == 1  # fmt: skip


def execution(state: str, trigger: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"pipeline": "mlops-delivery", "execution-id": "e-1", "state": state, "version": 3}
    if trigger is not None:
        detail["execution-trigger"] = {"trigger-type": trigger, "trigger-detail": "x"}
    return event("aws.codepipeline", "CodePipeline Pipeline Execution State Change", detail)


def test_failures_are_announced_except_the_run_that_creating_the_pipeline_starts(delivery: Template) -> None:
    rule = rule_with(delivery, "Failed")
    pipeline = next(iter(resources(delivery, "AWS::CodePipeline::Pipeline")))
    pattern = concrete(rule["EventPattern"], {json.dumps({"Ref": pipeline}): "mlops-delivery"})
    for trigger in ("CloudWatchEvent", "StartPipelineExecution", "Webhook", "WebhookV2", None):
        assert matches(pattern, execution("FAILED", trigger)), trigger
    assert not matches(pattern, execution("FAILED", "CreatePipeline"))  # the empty repository's first run
    assert not matches(pattern, execution("SUCCEEDED", "CloudWatchEvent"))
    assert not matches(pattern, {**execution("FAILED", None), "detail": {**execution("FAILED", None)["detail"],
                                                                          "pipeline": "another"}})  # fmt: skip


def test_notifications_have_their_own_key_for_eventbridge_and_this_accounts_alarms(delivery: Template) -> None:
    assert CONFIG.delivery is not None
    topic = Capture()
    key = Capture()
    delivery.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}})
    assert key.as_string() != next(k for k in resources(delivery, "AWS::CodeCommit::Repository").values())[
        "Properties"]["KmsKeyId"]["Fn::GetAtt"][0]  # fmt: skip
    for email in CONFIG.delivery.notification_emails:
        delivery.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": email, "TopicArn": {"Ref": topic}}
        )
    policy = resources(delivery, "AWS::KMS::Key")[key.as_string()]["Properties"]["KeyPolicy"]["Statement"]
    by_service = {s["Principal"]["Service"]: s for s in policy if "Service" in s.get("Principal", {})}
    assert by_service["cloudwatch.amazonaws.com"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"},
    }
    assert set(by_service) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    rules = [r["Properties"] for r in resources(delivery, "AWS::Events::Rule").values()]
    announcing = [r for r in rules if r["EventPattern"]["source"] == ["aws.codepipeline"]]
    successes = [r for r in announcing if r["EventPattern"]["detail"]["state"] == ["SUCCEEDED"]]
    assert [r["EventPattern"]["detail"]["stage"] for r in successes] == [[e] for e in CONFIG.delivery.notify_on_success]
    for rule in announcing:
        assert rule["Targets"][0]["Arn"] == {"Ref": topic.as_string()}


def test_direct_changes_to_the_delivery_branch_are_denied_by_the_developer_policy(delivery: Template) -> None:
    (policy,) = resources(delivery, "AWS::IAM::ManagedPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert {"codecommit:GitPush", "codecommit:PutFile", "codecommit:CreateCommit", "codecommit:DeleteBranch",
            "codecommit:MergeBranchesByFastForward"} <= set(statement["Action"])  # fmt: skip
    assert not any(a.startswith("codecommit:MergePullRequest") for a in statement["Action"])  # reviewed merges stay
    assert statement["Condition"]["StringEqualsIfExists"] == {"codecommit:References": ["refs/heads/main"]}
    assert statement["Resource"]["Fn::GetAtt"][1] == "Arn"
    assert "DenyDirectChangesPolicyArn" in delivery.to_json()["Outputs"]


def test_pull_requests_into_the_delivery_branch_need_the_configured_approvals(delivery: Template) -> None:
    assert CONFIG.delivery is not None
    calls = {}
    for props in (r["Properties"] for r in resources(delivery, "Custom::AWS").values()):
        for phase in ("Create", "Update", "Delete"):
            if phase in props:
                text = (
                    props[phase]
                    if isinstance(props[phase], str)
                    else "".join(
                        part if isinstance(part, str) else "REPOSITORY" for part in props[phase]["Fn::Join"][1]
                    )
                )
                call = json.loads(text)
                calls[call["action"]] = call["parameters"]
    content = json.loads(calls["createApprovalRuleTemplate"]["approvalRuleTemplateContent"])
    assert content["DestinationReferences"] == ["refs/heads/main"]
    assert content["Statements"] == [
        {"Type": "Approvers", "NumberOfApprovalsNeeded": CONFIG.delivery.pull_request_approvals}
    ]
    assert calls["updateApprovalRuleTemplateContent"]["newRuleContent"] == calls["createApprovalRuleTemplate"][
        "approvalRuleTemplateContent"]  # fmt: skip
    assert set(calls) == {"createApprovalRuleTemplate", "updateApprovalRuleTemplateContent",
                          "deleteApprovalRuleTemplate", "associateApprovalRuleTemplateWithRepository",
                          "disassociateApprovalRuleTemplateFromRepository"}  # fmt: skip
    # every call is a valid CodeCommit request (botocore's own validator, offline)
    model = botocore.session.get_session().get_service_model("codecommit")
    for action, parameters in calls.items():
        operation = model.operation_model(action[0].upper() + action[1:])
        report = ParamValidator().validate(parameters, operation.input_shape)
        assert not report.has_errors(), (action, report.generate_report())


def synth_variant(tmp_path: Path, edit: Any) -> Template:
    """Synthesize the whole app with an edited copy of the shipped config; returns the delivery template."""
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["model_build"]["dataset_spec"] = str(REPO_ROOT / "config" / data["model_build"]["dataset_spec"])
    edit(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    app = cdk.App(context={**cdk_json_context(), "config": str(path)}, outdir=str(tmp_path / "out"))
    stages = build_app(app)
    assert stages.delivery is not None
    # only the delivery stage: the environments' stacks (and their cdk-nag checks) are not what this is about
    return Template.from_stack(stages.delivery.delivery)


def test_codeconnections_source(tmp_path: Path) -> None:
    arn = "arn:aws:codeconnections:eu-west-1:123456789012:connection/12345678-1234-1234-1234-123456789012"

    def use_connection(data: dict[str, Any]) -> None:
        data["delivery"]["source"] = {"connection": {"arn": arn, "repository": "my-org/mlops"}}

    template = synth_variant(tmp_path, use_connection)
    assert not resources(template, "AWS::CodeCommit::Repository")
    assert not resources(template, "Custom::AWS")  # branch protection is the Git host's business there
    assert not resources(template, "AWS::SQS::Queue")  # CodeConnections triggers the pipeline itself
    source = infrastructure_stage(template, "Source")["Actions"][0]
    assert source["Configuration"]["ConnectionArn"] == arn
    assert source["Configuration"]["FullRepositoryId"] == "my-org/mlops"
    assert [a["Name"] for a in infrastructure_stage(template, "dev")["Actions"]][-1] == "Train-dev"
