"""The monitoring stacks as synthesized for the shipped config: every serving environment has health alarms, a topic
and a dashboard; prod (instances, capture) also has the monitoring job; alarms carry config's thresholds and a
deliberate missing-data treatment; retraining listens to exactly the drift, quality and bias alarms; the job may read
only what it monitors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from config.loader import DEFAULT_CONFIG_PATH, load_config
from tests.conftest import SynthesizedApp
from tests.event_patterns import concrete, event, matches

CONFIG = load_config(DEFAULT_CONFIG_PATH)
PROD = CONFIG.environments["prod"].monitoring
PROD_SERVING = CONFIG.environments["prod"].serving
RETRAIN_ON = {"feature-drift", "prediction-drift", "auc", "bias"}


@pytest.fixture(scope="module")
def monitoring(synthesized_app: SynthesizedApp) -> Template:
    return synthesized_app.template("prod", "monitoring")


def alarms_by_name(template: Template) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm")
            .values()}  # fmt: skip


def test_every_serving_environment_has_health_alarms_and_only_captured_ones_a_job(
    synthesized_app: SynthesizedApp,
) -> None:
    stacks = {stage for stage, component in synthesized_app.templates if component == "monitoring"}
    assert stacks == {name for name, env in CONFIG.environments.items() if env.serving is not None}
    for stage in stacks:
        template = synthesized_app.template(stage, "monitoring")
        names = set(alarms_by_name(template))
        assert {f"mlops-{stage}-endpoint-health-5xx-errors", f"mlops-{stage}-endpoint-health-latency-p99"} <= names, (
            stage
        )
        pipelines = template.find_resources("AWS::SageMaker::Pipeline")
        assert len(pipelines) == (1 if CONFIG.environments[stage].monitoring else 0), stage
    # the registry (dev) watches its own training pipeline, once in the account
    assert "mlops-dev-model-build-failed" in alarms_by_name(synthesized_app.template("dev", "monitoring"))


def test_alarms_use_config_thresholds_and_chosen_missing_data_treatment(monitoring: Template) -> None:
    assert PROD is not None
    assert PROD_SERVING is not None
    health = PROD_SERVING.alarms
    alarms = alarms_by_name(monitoring)
    endpoint = "mlops-prod-endpoint"
    expected = {
        f"{endpoint}-feature-drift": ("DriftedFeatures", 1, "GreaterThanOrEqualToThreshold", "ignore"),
        f"{endpoint}-prediction-drift": ("PredictionPSI", PROD.drift.prediction_psi, "GreaterThanOrEqualToThreshold",
                                         "ignore"),
        f"{endpoint}-auc": ("AUC", CONFIG.model_build.auc_threshold, "LessThanThreshold", "ignore"),
        f"{endpoint}-bias": ("BiasViolations", 1, "GreaterThanOrEqualToThreshold", "ignore"),
        f"{endpoint}-missing-values": ("MissingValueRate", PROD.drift.max_missing_rate, "GreaterThanThreshold",
                                       "ignore"),
        f"{endpoint}-health-5xx-errors": ("Invocation5XXErrors", health.max_5xx_errors, "GreaterThanThreshold",
                                   "notBreaching"),
        f"{endpoint}-health-latency-p99": ("ModelLatency", health.max_latency_p99_ms * 1000, "GreaterThanThreshold",
                                    "notBreaching"),
        f"{endpoint}-health-no-invocations": ("Invocations", 1, "LessThanThreshold", "breaching"),
        "mlops-prod-monitoring-failed": ("ExecutionFailed", 1, "GreaterThanOrEqualToThreshold", "notBreaching"),
    }  # fmt: skip
    for name, (metric, threshold, operator, missing) in expected.items():
        alarm = alarms[name]
        assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
            metric, threshold, operator, missing), name  # fmt: skip
    (topic,) = monitoring.find_resources("AWS::SNS::Topic")
    for name, alarm in alarms.items():  # every alarm notifies the monitoring topic, and only it
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
    monitored = [a for a in alarms.values() if a.get("Namespace") == "mlops/Monitoring"]
    assert len(monitored) >= 5
    for alarm in monitored:
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Endpoint", "Value": endpoint}, {"Name": "Environment", "Value": "prod"}]  # fmt: skip


def alarm_ids(template: Template) -> dict[str, str]:
    return {a["Properties"]["AlarmName"]: logical for logical, a in template.find_resources(
        "AWS::CloudWatch::Alarm").items()}  # fmt: skip


def test_retraining_listens_to_exactly_the_drift_quality_and_bias_alarms(monitoring: Template) -> None:
    ids = alarm_ids(monitoring)
    rules = monitoring.find_resources("AWS::Events::Rule", {"Properties": {"EventPattern": Match.any_value()}})
    (rule,) = rules.values()
    pattern = rule["Properties"]["EventPattern"]
    listed = {json.dumps(r, sort_keys=True) for r in pattern["resources"]}
    wanted = {f"mlops-prod-endpoint-{k}" for k in RETRAIN_ON}
    assert listed == {json.dumps({"Fn::GetAtt": [ids[name], "Arn"]}, sort_keys=True) for name in wanted}
    arn = {name: f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}" for name in ids}
    tokens = {json.dumps({"Fn::GetAtt": [ids[n], "Arn"]}, sort_keys=True): arn[n] for n in ids}
    live = concrete(pattern, tokens)

    def alarm_event(name: str, state: str) -> dict[str, Any]:
        return event("aws.cloudwatch", "CloudWatch Alarm State Change", {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-12-01T12:00:00.000+0000"},
            "previousState": {"value": "OK"}, "configuration": {"metrics": []}}, resources=[arn[name]])  # fmt: skip

    for name in ids:
        for state in ("ALARM", "OK", "INSUFFICIENT_DATA"):
            expected = name in wanted and state == "ALARM"
            assert matches(live, alarm_event(name, state)) is expected, (name, state)


def test_the_schedule_starts_the_pipeline_on_its_scheduled_window_once(monitoring: Template) -> None:
    target = Capture()
    monitoring.has_resource_properties("AWS::Scheduler::Schedule", {"Target": target})
    request = json.loads(target.as_object()["Input"])
    assert request["PipelineName"] == "mlops-prod-monitoring"
    assert request["PipelineParameters"] == [{"Name": "WindowEnd", "Value": "<aws.scheduler.scheduled-time>"}]
    assert request["ClientRequestToken"] == "<aws.scheduler.execution-id>"


def statements_of_role(template: Template, role_name: str) -> list[dict[str, Any]]:
    roles = {k for k, r in template.find_resources("AWS::IAM::Role").items()
             if r["Properties"].get("RoleName") == role_name}  # fmt: skip
    return [st for p in template.find_resources("AWS::IAM::Policy").values()
            if any(r.get("Ref") in roles for r in p["Properties"]["Roles"])
            for st in p["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip


def test_the_monitoring_job_reads_its_window_and_writes_only_its_report_and_namespace(monitoring: Template) -> None:
    statements = statements_of_role(monitoring, "mlops-prod-monitor-job")
    writes = [st for st in statements if set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
              & {"s3:PutObject", "s3:DeleteObject"}]  # fmt: skip
    assert [st["Resource"] for st in writes] == [
        "arn:aws:s3:::mlops-prod-artifacts-123456789012-eu-west-1/monitoring/*"
    ]
    (metrics,) = [st for st in statements if st.get("Sid") == "PublishFigures"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "mlops/Monitoring"}}
    (listing,) = [st for st in statements if st.get("Sid") == "ListWindow"]
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == [
        "endpoints/mlops-prod-endpoint/*", "ground-truth/mlops-prod-endpoint/*"]  # fmt: skip


def test_the_retraining_function_is_single_and_guarded(monitoring: Template) -> None:
    assert PROD is not None
    assert PROD.retraining is not None
    monitoring.has_resource_properties("AWS::Lambda::Function", {
        "ReservedConcurrentExecutions": 1,
        "DeadLetterConfig": {"TargetArn": Match.any_value()},
        "Environment": {"Variables": Match.object_like({
            "PIPELINE_NAME": "mlops-dev-model-build",
            "COOLDOWN_MINUTES": str(PROD.retraining.cooldown_hours * 60),
            "DAILY_MAX": str(PROD.retraining.max_per_day),
            "TRAINING_DATA_URI": "s3://mlops-dev-data-123456789012-eu-west-1/datasets/german-credit/"})},
    })  # fmt: skip
    monitoring.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    monitoring.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}})  # fmt: skip
