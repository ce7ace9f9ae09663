"""Issue 11's loop, offline, in one test: a model the local pipeline registered is approved and served by the local
endpoint, which captures its traffic; the traffic drifts; the monitoring job - the synthesized prod definition, run by
the local runner - publishes a figure over the synthesized alarm's threshold; the alarm's state-change event matches
the synthesized retraining rule; and the retraining function, configured exactly as synthesized, starts the
registry's training pipeline (moto) once, with the fresh data and the trigger as parameters."""

from __future__ import annotations

import importlib
import json
import operator
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.naming import (
    CAPTURE_PREFIX,
    bucket_name,
    endpoint_name,
    live_model_parameter_name,
    monitoring_pipeline_name,
)
from local_endpoint.cli import serving
from local_pipeline.assembly import load_definition
from local_pipeline.runner import run_pipeline
from local_pipeline.s3 import LocalS3
from tests.conftest import SynthesizedApp
from tests.deploy.account import Cloud
from tests.deploy.conftest import stacks_of
from tests.event_patterns import concrete, event, matches
from tests.lambdas.context import LambdaContext
from tests.lambdas.retraining.world import create_resources
from tests.local_endpoint.test_endpoint import csv_body, feature_rows, request
from tests.registered_model import GROUP, RegisteredModel

pytestmark = pytest.mark.xdist_group("synth")  # its app synth is shared; the pipeline run is cheaper

GENERATED = re.compile(r"\$\{(?:Ref|Name):[^}]*/([A-Za-z0-9]+)\}")
PROJECT, ENV, ACCOUNT, REGION = "mlops", "prod", "123456789012", "eu-west-1"
COMPARE = {"GreaterThanThreshold": operator.gt, "GreaterThanOrEqualToThreshold": operator.ge,
           "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le}  # fmt: skip


def drifted(header: list[str], rows: list[list[str]], copies: int) -> list[list[str]]:
    """The rows ``copies`` times over, each credit amount 8,000 DM higher (a shift the train split never saw)."""
    amount = header.index("credit_amount")
    shifted = [[*row[:amount], str(int(row[amount]) + 8000), *row[amount + 1 :]] for row in rows]
    return shifted * copies


def serve_drifted_traffic(model: RegisteredModel, root: Path) -> int:
    """Requests of 50 rows each to the local endpoint, captured where the prod endpoint's capture lands."""
    capture = root / "s3" / bucket_name(PROJECT, ENV, "capture", ACCOUNT, REGION) / CAPTURE_PREFIX
    header, rows = feature_rows(model, 100)
    traffic = drifted(header, rows, 3)
    with serving(model.workspace, capture_dir=capture, endpoint_name=endpoint_name(PROJECT, ENV)) as server:
        for start in range(0, len(traffic), 50):
            status, _, body = request(server, "POST", "/invocations", csv_body(traffic[start : start + 50]), {
                "Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": f"loop-{start}"})  # fmt: skip
            assert status == 200, body
    return len(traffic)


def alarm_on(template: dict[str, Any], metric: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r["Properties"]) for k, r in template["Resources"].items()
                if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == metric]  # fmt: skip
    return found


def test_drifted_production_traffic_retrains_the_registry_model_once(
    synthesized_app: SynthesizedApp, registered_model: RegisteredModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1. registered (local pipeline) and approved: the deploy flow writes the package into prod's live-model parameter
    root = tmp_path / "aws"
    for folder in ("registry", "s3"):
        shutil.copytree(registered_model.workspace / folder, root / folder)
    parameter = root / "ssm" / live_model_parameter_name(PROJECT, ENV).lstrip("/")
    parameter.parent.mkdir(parents=True)
    parameter.write_text(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/1")

    # 2. served by the local endpoint, which captures the (drifted) traffic
    served = serve_drifted_traffic(registered_model, root)

    # 3. the monitoring job: the synthesized definition of prod's monitoring pipeline, run locally
    loaded = load_definition(synthesized_app.outdir, ENV, monitoring_pipeline_name(PROJECT, ENV))
    window_end = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_pipeline(loaded.definition, parameters={"WindowEnd": window_end}, s3=LocalS3(root / "s3",
                          dict(loaded.s3_objects)), workspace=root / "run", registry=root / "registry")  # fmt: skip
    assert result.succeeded, result.summary()
    published = [json.loads(line) for line in (root / "cloudwatch" / "metrics.jsonl").read_text().splitlines()]

    def figure(name: str) -> float:
        (value,) = [d["Value"] for d in published if d["MetricName"] == name and len(d["Dimensions"]) == 2]
        return float(value)

    assert figure("CapturedRows") == served

    # 4. the alarm, with its synthesized threshold and dimensions, goes to ALARM on that figure
    template = synthesized_app.templates[(ENV, "monitoring")]
    logical_id, alarm = alarm_on(template, "DriftedFeatures")
    (datum,) = [d for d in published if d["MetricName"] == "DriftedFeatures"]
    assert alarm["Namespace"] == datum["Namespace"]
    assert sorted(map(json.dumps, alarm["Dimensions"])) == sorted(map(json.dumps, datum["Dimensions"]))
    assert COMPARE[alarm["ComparisonOperator"]](datum["Value"], alarm["Threshold"]), (datum, alarm["Threshold"])

    # 5. its state-change event matches the synthesized retraining rule
    alarm_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['AlarmName']}"
    change = event("aws.cloudwatch", "CloudWatch Alarm State Change", {
        "alarmName": alarm["AlarmName"], "state": {"value": "ALARM", "reason": "Threshold Crossed",
                                                   "timestamp": "2026-12-01T10:05:12.345+0000"},
        "previousState": {"value": "OK"}, "configuration": {"metrics": []}}, resources=[alarm_arn])  # fmt: skip
    cloud = Cloud(stacks_of(synthesized_app))
    monitoring = next(s for s in cloud.stacks if s.label == f"{ENV}/monitoring")
    (rule,) = [r for r in cloud.resources("AWS::Events::Rule") if r.stack is monitoring]
    tokens = {json.dumps({"Fn::GetAtt": [r.logical_id, "Arn"]}, sort_keys=True): cloud.arn(r)
              for r in cloud.resources("AWS::CloudWatch::Alarm") if r.stack is monitoring}  # fmt: skip
    assert tokens[json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)] == alarm_arn
    assert matches(concrete(rule.properties["EventPattern"], tokens), change)

    # 6. the retraining function, with the synthesized environment, starts the registry pipeline in moto
    (function,) = [f for f in cloud.resources("AWS::Lambda::Function") if f.stack is monitoring]
    # names CloudFormation generates (the table's, the topic's) resolve to placeholders: their logical ids stand in
    environ = {k: GENERATED.sub(r"\1", v) for k, v in cloud.prop(function, "Environment")["Variables"].items()}
    assert alarm_arn in json.loads(environ["ALARM_ARNS"])
    with mock_aws():
        for name, value in {**environ, "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(name, value)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        create_resources(environ, sagemaker)  # the state table and topic as the stack names them, the pipeline
        handler = importlib.reload(importlib.import_module("retraining.handler"))
        first = handler.handler(change, LambdaContext("mlops-prod-retraining", REGION, ACCOUNT))
        again = handler.handler(change, LambdaContext("mlops-prod-retraining", REGION, ACCOUNT))
        executions = sagemaker.list_pipeline_executions(PipelineName=environ["PIPELINE_NAME"])
        (started,) = executions["PipelineExecutionSummaries"]
        parameters = {p["Name"]: p["Value"] for p in sagemaker.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=started["PipelineExecutionArn"])["PipelineParameters"]}  # fmt: skip
    assert (first["decision"], again["decision"]) == ("started", "duplicate")
    assert parameters["InputDataUri"] == environ["TRAINING_DATA_URI"]
    assert parameters["Trigger"].startswith(f"alarm:{alarm['AlarmName']}@")
