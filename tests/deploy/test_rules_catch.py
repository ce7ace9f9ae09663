"""Every deploy-invariant rule fails on a deliberately broken template (and passes once it is fixed), so a green
test_invariants.py means something. Templates here are small hand-written dicts."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.deploy.account import Cloud
from tests.deploy.cfn import Stack
from tests.deploy.cross_account import grants_are_honoured_across_accounts
from tests.deploy.lifecycle import deletable, literal_partitions
from tests.deploy.names import physical_names_are_unique
from tests.deploy.pipeline import inputs_are_listable
from tests.deploy.rules import keys_admit_services, readers_can_decrypt

ACCOUNT = "123456789012"
ROOT = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


def cloud(*templates: dict[str, Any], region: str = "eu-west-1") -> Cloud:
    return Cloud([Stack(f"test/t{i}", f"t{i}", ACCOUNT, region, t) for i, t in enumerate(templates)])


def key(*statements: dict[str, Any], policy: str = "Delete") -> dict[str, Any]:
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [ROOT, *statements]}},
            "DeletionPolicy": policy}  # fmt: skip


def role(*statements: dict[str, Any], name: str = "Role") -> dict[str, Any]:
    return {
        name: {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        f"{name}Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p", "Roles": [{"Ref": name}], "PolicyDocument": {"Statement": list(statements)}}},
    }  # fmt: skip


def allow(action: str | list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# --- rule 1: keys admit the services that use them -------------------------------------------------------------

LOGS = {"Service": "logs.eu-west-1.amazonaws.com"}
LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
ANY_GROUP = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"}}


def log_group_template(*key_statements: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {"Key": key(*key_statements), "Logs": {
        "Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": KEY_ARN, "RetentionInDays": 30}}}}  # fmt: skip


def test_log_group_key_must_admit_the_logs_service() -> None:
    violations = keys_admit_services(cloud(log_group_template()))
    assert len(violations) == 1
    assert "test/t0 Logs (AWS::Logs::LogGroup)" in violations[0]
    assert "does not allow logs.eu-west-1.amazonaws.com kms:Encrypt" in violations[0]
    admitted = {"Effect": "Allow", "Principal": LOGS, "Action": LOGS_ACTIONS, "Resource": "*", "Condition": ANY_GROUP}
    assert keys_admit_services(cloud(log_group_template(admitted))) == []


def test_log_group_key_statement_needs_the_encryption_context_condition() -> None:
    unconditioned = {"Effect": "Allow", "Principal": LOGS, "Action": LOGS_ACTIONS, "Resource": "*"}
    (violation,) = keys_admit_services(cloud(log_group_template(unconditioned)))
    assert "without a source condition" in violation
    assert "999999999999" in violation


def test_a_condition_the_evaluator_cannot_judge_fails_loudly() -> None:
    dated = {"Effect": "Allow", "Principal": LOGS, "Action": LOGS_ACTIONS, "Resource": "*",
             "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}  # fmt: skip
    (violation,) = keys_admit_services(cloud(log_group_template(dated)))
    assert "evaluator cannot judge condition DateLessThan on aws:CurrentTime" in violation


def topic_template(
    *key_statements: dict[str, Any], alarm: bool = False,
    publishers: tuple[str, ...] | None = ("events.amazonaws.com", "cloudwatch.amazonaws.com"),
) -> dict[str, Any]:  # fmt: skip
    """An encrypted topic that a rule (and an alarm) send to; ``publishers``: the services its TopicPolicy admits
    (None: no TopicPolicy, SNS's default policy)."""
    resources: dict[str, Any] = {
        "Key": key(*key_statements),
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": KEY_ARN}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Arn": {"Ref": "Topic"}, "Id": "T"}]}},
    }
    if publishers is not None:
        publish = {"Effect": "Allow", "Principal": {"Service": list(publishers)}, "Action": "sns:Publish",
                   "Resource": {"Ref": "Topic"}}  # fmt: skip
        resources["TopicPolicy"] = {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": [publish]}}}  # fmt: skip
    if alarm:
        resources["Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}}
    return {"Resources": resources}


def delivery(service: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"Service": service},
                 "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}  # fmt: skip
    return {**statement, "Condition": condition} if condition else statement


SAME_ACCOUNT = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_topic_key_must_admit_eventbridge_without_a_source_condition_it_never_gets() -> None:
    (missing,) = keys_admit_services(cloud(topic_template()))
    assert "test/t0 Topic (AWS::SNS::Topic)" in missing
    assert "does not allow events.amazonaws.com" in missing
    # EventBridge's KMS request carries no aws:SourceAccount: a condition on it drops every event
    (dropped,) = keys_admit_services(cloud(topic_template(delivery("events.amazonaws.com", SAME_ACCOUNT))))
    assert "does not allow events.amazonaws.com" in dropped
    assert keys_admit_services(cloud(topic_template(delivery("events.amazonaws.com")))) == []


def test_a_key_eventbridge_may_use_unconditioned_encrypts_delivery_targets_only() -> None:
    template = topic_template(delivery("events.amazonaws.com"))
    template["Resources"]["Logs"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": KEY_ARN}}
    violations = keys_admit_services(cloud(template))
    shared = [v for v in violations if "must encrypt EventBridge delivery targets only" in v]
    assert len(shared) == 1
    assert "also encrypts test/t0 Logs (AWS::Logs::LogGroup)" in shared[0]


def test_topic_key_must_admit_cloudwatch_for_alarm_actions() -> None:
    events = delivery("events.amazonaws.com")
    (violation,) = keys_admit_services(cloud(topic_template(events, alarm=True)))
    assert "does not allow cloudwatch.amazonaws.com" in violation
    assert "Alarm (alarm action)" in violation
    watch = delivery(
        "cloudwatch.amazonaws.com", {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"}}
    )
    assert keys_admit_services(cloud(topic_template(events, watch, alarm=True))) == []


def queue_template(*key_statements: dict[str, Any], queue_policy: bool) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Key": key(*key_statements),
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": KEY_ARN}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{
            "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:f", "Id": "T",
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}}]}},
    }  # fmt: skip
    if queue_policy:
        resources["QueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}}}]}}}  # fmt: skip
    return {"Resources": resources}


def test_dead_letter_queue_needs_its_key_and_its_queue_policy_to_admit_eventbridge() -> None:
    violations = keys_admit_services(cloud(queue_template(queue_policy=False)))
    assert len(violations) == 2
    assert all("test/t0 Queue (AWS::SQS::Queue)" in v and "dead-letter queue of target T" in v for v in violations)
    assert any("no queue policy lets events.amazonaws.com sqs:SendMessage" in v for v in violations)
    fixed = queue_template(delivery("events.amazonaws.com"), queue_policy=True)
    assert keys_admit_services(cloud(fixed)) == []


# --- rule 2: readers of encrypted data can decrypt -----------------------------------------------------------------

BUCKET_NAME = f"data-{ACCOUNT}"


def bucket_template() -> dict[str, Any]:
    encryption = {"ServerSideEncryptionConfiguration": [{"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}}]}  # fmt: skip
    return {"Resources": {"Key": key(), "Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
            "Properties": {"BucketName": BUCKET_NAME, "BucketEncryption": encryption}}}}  # fmt: skip


def test_a_role_reading_an_encrypted_bucket_must_decrypt_with_its_key() -> None:
    # the reader is in another template and names the bucket literally, the key through a cross-stack export
    storage = bucket_template()
    storage["Outputs"] = {"KeyArn": {"Value": KEY_ARN, "Export": {"Name": "key-arn"}}}
    reader = {"Resources": role(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET_NAME}/datasets/*"))}
    (violation,) = readers_can_decrypt(cloud(storage, reader))
    assert violation.startswith(
        "test/t1 Role (AWS::IAM::Role) may s3:GetObject arn:aws:s3:::data-123456789012/datasets/x"
    )
    assert "cannot decrypt it with test/t0 Key (AWS::KMS::Key)" in violation
    decrypting = {"Resources": role(allow("s3:GetObject", f"arn:aws:s3:::{BUCKET_NAME}/datasets/*"),
                                    allow("kms:Decrypt", {"Fn::ImportValue": "key-arn"}))}  # fmt: skip
    assert readers_can_decrypt(cloud(storage, decrypting)) == []


def test_a_role_reading_an_encrypted_repository_must_decrypt_through_codecommit() -> None:
    template: dict[str, Any] = {"Resources": {
        "Key": key(), "Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {
            "RepositoryName": "r", "KmsKeyId": KEY_ARN}},
        **role(allow("codecommit:GetDifferences", {"Fn::GetAtt": ["Repo", "Arn"]}))}}  # fmt: skip
    (violation,) = readers_can_decrypt(cloud(template))
    assert "test/t0 Role (AWS::IAM::Role) may codecommit:GetDifferences on test/t0 Repo" in violation
    via = {"StringEquals": {"kms:ViaService": "codecommit.eu-west-1.amazonaws.com"}}
    template["Resources"]["RolePolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        allow("kms:Decrypt", KEY_ARN, Condition=via)
    )
    assert readers_can_decrypt(cloud(template)) == []


# --- rule 3: S3Prefix inputs are listable --------------------------------------------------------------------------

ASSETS = f"cdk-hnb659fds-assets-{ACCOUNT}-eu-west-1"
ARTIFACTS = "s3://artifacts-bucket/pipelines/p"


def pipeline_template(*statements: dict[str, Any]) -> dict[str, Any]:
    output = {"Std:Join": {"On": "/", "Values": [ARTIFACTS, {"Get": "Execution.PipelineExecutionId"}, "prep", "train"]}}
    body = {"Parameters": [{"Name": "Input", "Type": "String", "DefaultValue": f"s3://{ASSETS}/abc.data"}], "Steps": [
        {"Name": "Prep", "Type": "Processing", "Arguments": {"RoleArn": "@ROLE@", "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3DataType": "S3Prefix", "S3Uri": {"Get": "Parameters.Input"}}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": output}}]}}},
        {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [
            {"Name": "Train", "Type": "Training", "Arguments": {"RoleArn": "@ROLE@", "InputDataConfig": [
                {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": {
                    "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}}}}]}}]}},
    ]}  # fmt: skip
    pieces = json.dumps(body).split("@ROLE@")  # the role ARN goes in as CDK renders a token: Fn::Join + Fn::GetAtt
    parts: list[Any] = [pieces[0]]
    for piece in pieces[1:]:
        parts += [{"Fn::GetAtt": ["Role", "Arn"]}, piece]
    definition = {"PipelineDefinitionBody": {"Fn::Join": ["", parts]}}
    pipeline = {"Type": "AWS::SageMaker::Pipeline", "Properties": {"PipelineDefinition": definition}}
    return {"Resources": {**role(*statements), "Pipeline": pipeline}}


READ_ASSET = allow("s3:GetObject", f"arn:aws:s3:::{ASSETS}/abc.data")
ARTIFACT_RULES = [allow("s3:ListBucket", "arn:aws:s3:::artifacts-bucket",
                        Condition={"StringLike": {"s3:prefix": "pipelines/p/*"}}),
                  allow("s3:GetObject", "arn:aws:s3:::artifacts-bucket/pipelines/p/*")]  # fmt: skip


def test_an_s3_prefix_input_needs_list_bucket_not_only_get_object() -> None:
    (violation,) = inputs_are_listable(cloud(pipeline_template(READ_ASSET, *ARTIFACT_RULES)))
    assert "test/t0 Pipeline (AWS::SageMaker::Pipeline) step Prep input data" in violation
    assert f"s3:ListBucket on arn:aws:s3:::{ASSETS}" in violation
    assert '"s3:prefix": "abc.data"' in violation
    listing = allow("s3:ListBucket", f"arn:aws:s3:::{ASSETS}", Condition={"StringEquals": {"s3:prefix": "abc.data"}})
    assert inputs_are_listable(cloud(pipeline_template(READ_ASSET, listing, *ARTIFACT_RULES))) == []


def test_a_step_output_used_as_input_resolves_to_where_the_producer_writes() -> None:
    listing = allow("s3:ListBucket", f"arn:aws:s3:::{ASSETS}")
    evaluate_only = {"StringLike": {"s3:prefix": "pipelines/p/*/evaluate/*"}}
    narrow = [allow("s3:ListBucket", "arn:aws:s3:::artifacts-bucket", Condition=evaluate_only), ARTIFACT_RULES[1]]
    (violation,) = inputs_are_listable(cloud(pipeline_template(READ_ASSET, listing, *narrow)))
    assert (
        "step Train input train (s3://artifacts-bucket/pipelines/p/${Execution:PipelineExecutionId}/prep/train)"
        in violation
    )


# --- rule 4: partitions --------------------------------------------------------------------------------------------


def test_a_literal_aws_partition_fails_in_china_and_a_china_partition_fails_elsewhere() -> None:
    template = {"Resources": role(allow("s3:GetObject", {"Fn::Join": ["", ["arn:aws:s3:::", {"Ref": "AWS::Region"}]]}))}
    (violation,) = literal_partitions(cloud(template, region="cn-north-1").stacks)
    assert "test/t0 RolePolicy: 1 ARN(s) with a partition other than 'aws-cn'" in violation
    assert literal_partitions(cloud(template).stacks) == []
    china = {"Resources": role(allow("s3:GetObject", "arn:aws-cn:s3:::b/*"))}
    assert len(literal_partitions(cloud(china).stacks)) == 1
    assert literal_partitions(cloud(china, region="cn-northwest-1").stacks) == []


# --- rule 5: what is deleted can be deleted ------------------------------------------------------------------------


def group_template(*cleanup_depends: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {"Group": {"Type": "AWS::SageMaker::ModelPackageGroup", "DeletionPolicy": "Delete",
                                           "Properties": {"ModelPackageGroupName": "models"}}}  # fmt: skip
    if cleanup_depends:
        resources["Cleanup"] = {"Type": "Custom::ModelPackageGroupCleanup", "DependsOn": list(cleanup_depends[1:]),
                                "Properties": {"ServiceToken": "arn:aws:lambda:eu-west-1:1:function:f",
                                               "GroupName": cleanup_depends[0]}}  # fmt: skip
    return {"Resources": resources}


def test_a_deleted_model_package_group_needs_a_cleanup_that_runs_before_it() -> None:
    (violation,) = deletable(cloud(group_template()))
    assert "test/t0 Group (AWS::SageMaker::ModelPackageGroup) is deleted with its stack" in violation
    (unordered,) = deletable(cloud(group_template("models")))  # names it, but nothing orders the deletions
    assert "Cleanup names it but does not depend on it" in unordered
    assert deletable(cloud(group_template({"Ref": "Group"}))) == []
    assert deletable(cloud(group_template("models", "Group"))) == []


def test_containers_and_retained_data_keys() -> None:
    bucket = bucket_template()
    bucket["Resources"]["Bucket"]["DeletionPolicy"] = "Delete"
    ecr = {"Type": "AWS::ECR::Repository", "DeletionPolicy": "Delete", "Properties": {}}
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {"DeletionProtectionEnabled": True}}
    violations = deletable(cloud({"Resources": {**bucket["Resources"], "Images": ecr, "Table": table}}))
    assert sorted(v.split(" (")[0] for v in violations) == ["test/t0 Bucket", "test/t0 Images", "test/t0 Table"]
    retained = bucket_template()  # the bucket is retained, its key is not
    (orphan,) = deletable(cloud(retained))
    assert "test/t0 Key (AWS::KMS::Key) is deleted" in orphan
    assert "test/t0 Bucket (AWS::S3::Bucket) is retained" in orphan
    kept = copy.deepcopy(retained)
    kept["Resources"]["Key"]["DeletionPolicy"] = "Retain"
    assert deletable(cloud(kept)) == []


def test_a_deleted_bucket_is_emptied_by_a_handler_the_bucket_policy_admits() -> None:
    resources = bucket_template()["Resources"]
    resources["Bucket"]["DeletionPolicy"] = "Delete"
    resources.update(role(name="Handler"))
    resources["Fn"] = {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Handler", "Arn"]}}}
    resources["AutoDelete"] = {"Type": "Custom::S3AutoDeleteObjects", "Properties": {
        "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "BucketName": {"Ref": "Bucket"}}}  # fmt: skip
    violations = deletable(cloud({"Resources": resources}))
    assert violations
    assert all("AutoDelete cannot empty it" in v for v in violations)
    resources["BucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"},
        "PolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": ["Handler", "Arn"]}},
            "Action": ["s3:List*", "s3:DeleteObject*"], "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}]}]}}}  # fmt: skip
    assert deletable(cloud({"Resources": resources})) == []


def test_a_topic_policy_must_let_the_services_that_send_to_the_topic_publish() -> None:
    events = delivery("events.amazonaws.com")
    watch = delivery("cloudwatch.amazonaws.com", SAME_ACCOUNT)
    (violation,) = keys_admit_services(
        cloud(topic_template(events, watch, alarm=True, publishers=("events.amazonaws.com",)))
    )
    assert "no topic policy lets cloudwatch.amazonaws.com sns:Publish for test/t0 Alarm (alarm action)" in violation
    # without a TopicPolicy, SNS's default policy admits the account's alarms but not EventBridge
    (default,) = keys_admit_services(cloud(topic_template(events, watch, alarm=True, publishers=None)))
    assert "no topic policy lets events.amazonaws.com sns:Publish for test/t0 Rule (target T)" in default


# --- rule: grants across accounts are honoured by the resource's policy ----------------------------------------

SERVING = "222222222222"
MODEL_DATA = f"arn:aws:s3:::{BUCKET_NAME}/pipelines/x/*"
GROUP_VERSIONS = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/group/*"


def two_accounts(registry: dict[str, Any], serving: dict[str, Any]) -> Cloud:
    return Cloud([Stack("reg/t", "reg", ACCOUNT, "eu-west-1", registry),
                  Stack("srv/t", "srv", SERVING, "eu-west-1", serving)])  # fmt: skip


def registry_template(*, bucket_policy: bool, group_policy: bool) -> dict[str, Any]:
    template = bucket_template()
    serving_root = {"AWS": f"arn:aws:iam::{SERVING}:root"}
    if bucket_policy:
        template["Resources"]["BucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Statement": [
                allow("s3:GetObject", MODEL_DATA, Principal=serving_root, Condition={
                    "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{SERVING}:role/host"}})]}}}  # fmt: skip
    group: dict[str, Any] = {"ModelPackageGroupName": "group"}
    if group_policy:
        group["ModelPackageGroupPolicy"] = {"Statement": [
            allow(["sagemaker:DescribeModelPackage"], GROUP_VERSIONS, Principal=serving_root)]}  # fmt: skip
    template["Resources"]["Group"] = {"Type": "AWS::SageMaker::ModelPackageGroup", "Properties": group}
    return template


def test_a_grant_into_another_account_needs_the_resource_policy_of_that_account() -> None:
    serving = {
        "Resources": {
            **role(allow("s3:GetObject", MODEL_DATA), name="Host"),
            **role(allow("sagemaker:DescribeModelPackage", GROUP_VERSIONS), name="Updater"),
        }
    }
    serving["Resources"]["Host"]["Properties"]["RoleName"] = "host"
    serving["Resources"]["Updater"]["Properties"]["RoleName"] = "updater"
    violations = grants_are_honoured_across_accounts(
        two_accounts(registry_template(bucket_policy=False, group_policy=False), serving)
    )
    assert len(violations) == 2
    assert any("srv/t Host" in v and "s3:GetObject" in v and "reg/t Bucket" in v for v in violations), violations
    assert any("srv/t Updater" in v and "reg/t Group" in v for v in violations), violations
    honoured = two_accounts(registry_template(bucket_policy=True, group_policy=True), serving)
    assert grants_are_honoured_across_accounts(honoured) == []
    # the bucket policy names the host role: another role of the serving account gets nothing from it
    serving["Resources"]["Host"]["Properties"]["RoleName"] = "someone-else"
    (violation,) = grants_are_honoured_across_accounts(honoured)
    assert "someone-else" in violation


def test_assuming_a_role_of_another_account_needs_its_trust_policy() -> None:
    target = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": "deployer",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/deploy-*"}},
                    }
                ]
            },
        },
    }
    caller = role(allow("sts:AssumeRole", f"arn:aws:iam::{SERVING}:role/deployer"), name="Caller")
    for name, expected in (("deploy-flow", 0), ("other", 1)):
        caller["Caller"]["Properties"]["RoleName"] = name
        cloud_ = two_accounts({"Resources": caller}, {"Resources": {"Deployer": target}})
        assert len(grants_are_honoured_across_accounts(cloud_)) == expected, name


def test_two_resources_with_one_physical_name_in_one_account_and_region_are_reported() -> None:
    def alarm(name: str) -> dict[str, Any]:
        return {"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": name}}}}

    (violation,) = physical_names_are_unique(cloud(alarm("pipeline-failed"), alarm("pipeline-failed")))
    assert violation.startswith(f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:pipeline-failed is claimed by 2")
    assert physical_names_are_unique(cloud(alarm("a-failed"), alarm("b-failed"))) == []
    # the same name in two accounts is two resources
    assert physical_names_are_unique(two_accounts(alarm("x"), alarm("x"))) == []
