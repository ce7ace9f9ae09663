"""Batch scoring as synthesized (cdk-nag included): the schedule from config, a function that may only start this
environment's batch jobs on the live model, and a host role that reads the input prefix and writes the output prefix
only. One extra serving stack is synthesized alone (the variant of conftest.py plus ``batch``)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from batch_scoring.scoring import Settings

from config.serving import ServingSettings
from tests.event_patterns import event, matches
from tests.stacks.serving.conftest import REGION, VARIANT_ACCOUNT, VARIANT_SETTINGS, synth_variant_stacks
from tests.stacks.serving.templates import as_list, by_sid, only, role_id, statements_of

BATCH = {
    "schedule": "cron(0 2 * * ? *)",
    "input_prefix": "batch/input/",
    "output_prefix": "batch/output/",
    "id_column": "customer_id",
    "instance_type": "ml.m5.xlarge",
    "instance_count": 2,
}
BUCKET = f"arn:aws:s3:::mlops-qa-data-{VARIANT_ACCOUNT}-{REGION}"


@pytest.fixture(scope="module")
def batch_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    settings = ServingSettings.model_validate({**VARIANT_SETTINGS, "batch": BATCH})
    return synth_variant_stacks(tmp_path_factory.mktemp("serving-batch"), settings)


@pytest.fixture(scope="module")
def batch_serving(batch_stacks: dict[str, Template]) -> Template:
    return batch_stacks["serving"]


def function_of(template: Template) -> tuple[str, dict[str, Any]]:
    return only(template, "AWS::Lambda::Function", {"Handler": "batch_scoring.handler.handler"})


def test_the_schedule_from_config_invokes_the_function(batch_serving: Template) -> None:
    function_id, _ = function_of(batch_serving)
    _, rule = only(batch_serving, "AWS::Events::Rule")
    assert rule["Properties"]["ScheduleExpression"] == BATCH["schedule"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_the_function_is_told_the_model_the_data_and_the_job_shape(batch_serving: Template) -> None:
    _, function = function_of(batch_serving)
    variables = function["Properties"]["Environment"]["Variables"]
    key = variables.pop("KMS_KEY_ARN")
    assert "DataKey" in str(key)  # the storage stack's data key (a cross-stack reference)
    assert {k: v for k, v in variables.items() if not k.startswith("POWERTOOLS_")} == {
        "LIVE_MODEL_PARAMETER": "/mlops/qa/serving/live-model-package",
        "MODEL_NAME_PREFIX": "mlops-qa-model-v",
        "JOB_NAME_PREFIX": "mlops-qa-batch-",
        "INPUT_URI": f"s3://mlops-qa-data-{VARIANT_ACCOUNT}-{REGION}/batch/input/",
        "OUTPUT_URI": f"s3://mlops-qa-data-{VARIANT_ACCOUNT}-{REGION}/batch/output/",
        "INSTANCE_TYPE": "ml.m5.xlarge",
        "INSTANCE_COUNT": "2",
    }
    # the function accepts what the stack tells it (the key as the ARN it resolves to)
    settings = Settings.from_environ({**variables, "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{VARIANT_ACCOUNT}:key/k"})
    assert settings.job_name_prefix == "mlops-qa-batch-"


def test_the_model_is_named_as_the_function_names_it(batch_serving: Template) -> None:
    """prefix + the version (third '/'-separated segment of the package ARN): what the function computes."""
    batch_serving.has_resource_properties(
        "AWS::SageMaker::Model",
        {"ModelName": {"Fn::Join": ["", ["mlops-qa-model-v", {"Fn::Select": [2, {"Fn::Split": ["/", {
            "Fn::Join": ["", [{"Ref": "LiveModelPackage"}, "/"]]}]}]}]]}},
    )  # fmt: skip


def test_the_function_may_only_start_this_environments_jobs(batch_serving: Template) -> None:
    _, function = function_of(batch_serving)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = by_sid([s for s in statements_of(batch_serving, role) if "Sid" in s])
    jobs = statements["RunBatchJobs"]
    assert sorted(as_list(jobs["Action"])) == ["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob"]
    assert jobs["Resource"] == f"arn:aws:sagemaker:{REGION}:{VARIANT_ACCOUNT}:transform-job/mlops-qa-batch-*"
    assert statements["ReadLiveModel"]["Action"] == "ssm:GetParameter"
    assert statements["ReadLiveModel"]["Resource"] == (
        f"arn:aws:ssm:{REGION}:{VARIANT_ACCOUNT}:parameter/mlops/qa/serving/live-model-package"
    )
    pass_role = statements["PassHostRole"]
    assert pass_role["Resource"] == f"arn:aws:iam::{VARIANT_ACCOUNT}:role/mlops-qa-model-host"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # beyond its own logs, nothing else
    others = [s for s in statements_of(batch_serving, role) if s.get("Sid") not in statements]
    assert {a for s in others for a in as_list(s["Action"])} <= {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_host_role_reads_the_input_and_writes_the_output_only(batch_serving: Template) -> None:
    statements = by_sid(statements_of(batch_serving, role_id(batch_serving, "mlops-qa-model-host")))
    assert statements["ListBatchInput"]["Resource"] == BUCKET
    assert statements["ListBatchInput"]["Condition"] == {"StringLike": {"s3:prefix": ["batch/input/", "batch/input/*"]}}
    assert (statements["ReadBatchInput"]["Action"], statements["ReadBatchInput"]["Resource"]) == (
        "s3:GetObject", f"{BUCKET}/batch/input/*",
    )  # fmt: skip
    assert (statements["WriteBatchOutput"]["Action"], statements["WriteBatchOutput"]["Resource"]) == (
        "s3:PutObject", f"{BUCKET}/batch/output/*",
    )  # fmt: skip
    key = statements["BatchDataKey"]
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"] == BUCKET
    assert statements["BatchLogs"]["Resource"][1] == (
        f"arn:aws:logs:{REGION}:{VARIANT_ACCOUNT}:log-group:/aws/sagemaker/TransformJobs:log-stream:mlops-qa-batch-*"
    )


def test_without_batch_there_is_no_schedule(serving_variant: Template) -> None:
    serving_variant.resource_count_is("AWS::Events::Rule", 0)
    assert not serving_variant.find_resources("AWS::Lambda::Function", {"Properties": {
        "Handler": "batch_scoring.handler.handler"}})  # fmt: skip
    sids = {s.get("Sid") for s in statements_of(serving_variant, role_id(serving_variant, "mlops-qa-model-host"))}
    assert not sids & {"ListBatchInput", "ReadBatchInput", "WriteBatchOutput", "BatchDataKey", "BatchLogs"}


def test_a_failed_batch_job_is_announced_on_the_monitoring_topic(batch_stacks: dict[str, Template]) -> None:
    """Batch runs are asynchronous: their failures reach the topic through SageMaker's own state-change events."""
    monitoring = batch_stacks["monitoring"]
    (topic,) = monitoring.find_resources("AWS::SNS::Topic")
    rule = only(monitoring, "AWS::Events::Rule")[1]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": topic}
    assert "failed" in target["InputTransformer"]["InputTemplate"]

    def state_change(name: str, status: str) -> dict[str, Any]:
        return event("aws.sagemaker", "SageMaker Transform Job State Change", {
            "TransformJobName": name, "TransformJobStatus": status, "FailureReason": "ClientError: bad row 3",
            "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{VARIANT_ACCOUNT}:transform-job/{name}"})  # fmt: skip

    pattern = rule["EventPattern"]
    assert matches(pattern, state_change("mlops-qa-batch-20261201T0200Z", "Failed"))
    assert not matches(pattern, state_change("mlops-qa-batch-20261201T0200Z", "Completed"))
    assert not matches(pattern, state_change("someone-elses-job", "Failed"))
