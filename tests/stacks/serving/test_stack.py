"""The serving stack as deployed: an endpoint that exists only once a model is live, sized and guarded from config."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Capture, Match, Template

from config.naming import LIVE_MODEL_CFN_PARAMETER, NO_LIVE_MODEL, live_model_parameter_name
from config.serving import MAX_DEPLOYMENT_SECONDS, InstanceEndpoint, ServerlessEndpoint
from stacks.serving.endpoint import VARIANT_NAME
from tests.conftest import SynthesizedApp
from tests.deploy.account import Cloud
from tests.deploy.conftest import stacks_of
from tests.stacks.serving.conftest import REGISTRY_ACCOUNT, serving_variant_settings
from tests.stacks.serving.templates import (
    CONFIG,
    ENDPOINT_TYPES,
    SERVING,
    actions_of,
    by_sid,
    endpoint_of,
    instance_envs,
    only,
    role_id,
    serverless_envs,
    statements_of,
)


def test_one_serving_stack_per_serving_environment_after_its_storage(synthesized_app: SynthesizedApp) -> None:
    assert SERVING == ["dev", "staging", "prod"]
    for name in CONFIG.environments:
        artifact = synthesized_app.stack_artifacts.get((name, "serving"))
        assert (artifact is not None) == (name in SERVING), name
        if artifact is not None:
            assert artifact.stack_name == f"mlops-{name}-serving"
            storage = synthesized_app.stack_artifacts[(name, "storage")]
            assert storage.id in {dependency.id for dependency in artifact.dependencies}


def test_the_live_model_comes_from_the_ssm_parameter(serving: Template, env_name: str) -> None:
    parameter = serving.to_json()["Parameters"][LIVE_MODEL_CFN_PARAMETER]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == live_model_parameter_name("mlops", env_name)
    serving.has_condition(
        "HasLiveModel", {"Fn::Not": [{"Fn::Equals": [{"Ref": LIVE_MODEL_CFN_PARAMETER}, NO_LIVE_MODEL]}]}
    )
    role = Capture()
    serving.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {"ModelPackageName": {"Ref": LIVE_MODEL_CFN_PARAMETER}},
            "ExecutionRoleArn": {"Fn::GetAtt": [role, "Arn"]},
            "EnableNetworkIsolation": True,
        },
    )
    assert role.as_string() == role_id(serving, f"mlops-{env_name}-model-host")


def test_without_a_live_model_no_endpoint_resource_exists(serving: Template) -> None:
    """Every endpoint resource is under HasLiveModel (a stack deployed before any approval has none); everything
    else exists always, so the roles and alarms are there when the first model arrives."""
    resources = serving.to_json()["Resources"]
    conditional = {k for k, r in resources.items() if r.get("Condition") == "HasLiveModel"}
    assert conditional == {k for k, r in resources.items() if r["Type"] in ENDPOINT_TYPES}
    assert {resources[k]["Type"] for k in conditional} >= set(ENDPOINT_TYPES[:3])
    assert not {k for k, r in resources.items() if "Condition" in r} - conditional


def test_the_endpoint_is_named_and_output(serving: Template, env_name: str) -> None:
    config_id = Capture()
    serving.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": f"mlops-{env_name}-endpoint",
            "EndpointConfigName": {"Fn::GetAtt": [config_id, "EndpointConfigName"]},
        },
    )
    assert config_id.as_string() in serving.find_resources("AWS::SageMaker::EndpointConfig")
    serving.has_output("EndpointName", {"Value": f"mlops-{env_name}-endpoint"})


@pytest.mark.parametrize("name", serverless_envs())
def test_serverless_endpoints_are_sized_from_config_with_no_instance_features(
    synthesized_app: SynthesizedApp, name: str
) -> None:
    serving = synthesized_app.template(name, "serving")
    endpoint = endpoint_of(name)
    assert isinstance(endpoint, ServerlessEndpoint)
    _, config = only(serving, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": endpoint.memory_mb,
        "MaxConcurrency": endpoint.max_concurrency,
    }
    assert variant["VariantName"] == VARIANT_NAME
    assert "InstanceType" not in variant
    assert "DataCaptureConfig" not in config["Properties"]
    _, resource = only(serving, "AWS::SageMaker::Endpoint")
    assert "DeploymentConfig" not in resource["Properties"]  # guardrails do not apply to serverless endpoints
    for kind in ("AWS::CloudWatch::Alarm", *ENDPOINT_TYPES[3:]):
        serving.resource_count_is(kind, 0)


@pytest.mark.parametrize("name", instance_envs())
def test_instance_endpoints_capture_data_with_the_data_key(synthesized_app: SynthesizedApp, name: str) -> None:
    serving = synthesized_app.template(name, "serving")
    endpoint = endpoint_of(name)
    assert isinstance(endpoint, InstanceEndpoint)
    assert endpoint.data_capture is not None
    logical_id, _ = only(
        serving,
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "VariantName": VARIANT_NAME,
                        "InstanceType": endpoint.instance_type,
                        "InitialInstanceCount": endpoint.instance_count,
                    }
                )
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": endpoint.data_capture.sampling_percentage,
                "DestinationS3Uri": f"s3://mlops-{name}-capture-123456789012-eu-west-1/endpoints",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
                "KmsKeyId": Match.any_value(),
            },
            "KmsKeyId": Match.any_value(),
        },
    )
    # both keys resolve to the environment's data key (the one its storage stack aliases alias/mlops-<env>-data)
    cloud = Cloud(stacks_of(synthesized_app))
    config = next(r for r in cloud.resources("AWS::SageMaker::EndpointConfig") if r.stack.label == f"{name}/serving")
    assert config.logical_id == logical_id
    key = next(k for k in cloud.resources("AWS::KMS::Key") if k.stack.label == f"{name}/storage")
    assert f"alias/mlops-{name}-data" in cloud.identities(key)
    for value in (config.properties["KmsKeyId"], config.properties["DataCaptureConfig"]["KmsKeyId"]):
        assert cloud.string(config, value) in cloud.identities(key)


@pytest.mark.parametrize("name", instance_envs())
def test_deployments_are_guarded_as_configured(synthesized_app: SynthesizedApp, name: str) -> None:
    serving = synthesized_app.template(name, "serving")
    endpoint = endpoint_of(name)
    assert isinstance(endpoint, InstanceEndpoint)
    deployment = endpoint.deployment
    errors, latency = Capture(), Capture()
    policy = Capture()
    serving.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": policy,
                "AutoRollbackConfiguration": {
                    "Alarms": [{"AlarmName": {"Ref": errors}}, {"AlarmName": {"Ref": latency}}]
                },
            },
            "RetainAllVariantProperties": endpoint.autoscaling is not None,
        },
    )
    blue_green = policy.as_object()
    routing = blue_green["TrafficRoutingConfiguration"]
    assert routing["Type"] == deployment.traffic.upper()
    assert routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": deployment.step_percent}
    assert routing["WaitIntervalInSeconds"] == deployment.wait_minutes * 60
    assert blue_green["TerminationWaitInSeconds"] == deployment.bake_minutes * 60
    waits = deployment.shifts * routing["WaitIntervalInSeconds"] + blue_green["TerminationWaitInSeconds"]
    assert waits < blue_green["MaximumExecutionTimeoutInSeconds"] <= MAX_DEPLOYMENT_SECONDS

    alarms = serving.find_resources("AWS::CloudWatch::Alarm")
    assert set(alarms) == {errors.as_string(), latency.as_string()}
    dimensions = [
        {"Name": "EndpointName", "Value": f"mlops-{name}-endpoint"},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]
    five_xx = alarms[errors.as_string()]["Properties"]
    assert (five_xx["Namespace"], five_xx["MetricName"], five_xx["Statistic"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Sum",
    )
    assert (five_xx["Threshold"], five_xx["ComparisonOperator"]) == (deployment.max_5xx_errors, "GreaterThanThreshold")
    slow = alarms[latency.as_string()]["Properties"]
    assert (slow["MetricName"], slow["ExtendedStatistic"]) == ("ModelLatency", "p99")
    assert slow["Threshold"] == deployment.max_latency_p99_ms * 1000  # ModelLatency is in microseconds
    for alarm in (five_xx, slow):
        assert alarm["Dimensions"] == dimensions
        assert alarm["TreatMissingData"] == "notBreaching"  # a quiet endpoint never rolls back


@pytest.mark.parametrize("name", instance_envs())
def test_instances_scale_on_invocations_per_instance(synthesized_app: SynthesizedApp, name: str) -> None:
    serving = synthesized_app.template(name, "serving")
    endpoint = endpoint_of(name)
    assert isinstance(endpoint, InstanceEndpoint)
    assert endpoint.autoscaling is not None
    target_id, target = only(
        serving,
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"endpoint/mlops-{name}-endpoint/variant/{VARIANT_NAME}",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": endpoint.autoscaling.min_instances,
            "MaxCapacity": endpoint.autoscaling.max_instances,
        },
    )
    endpoint_id, _ = only(serving, "AWS::SageMaker::Endpoint")
    assert endpoint_id in target["DependsOn"]  # the variant exists before it is registered
    serving.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "ScalingTargetId": {"Ref": target_id},
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": endpoint.autoscaling.invocations_per_instance,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                }
            ),
        },
    )


def test_a_linear_fixed_fleet_without_capture(serving_variant: Template) -> None:
    """The other instance shape: linear steps, a fixed instance count, data capture off."""
    endpoint = serving_variant_settings().endpoint
    assert isinstance(endpoint, InstanceEndpoint)
    _, config = only(serving_variant, "AWS::SageMaker::EndpointConfig")
    assert "DataCaptureConfig" not in config["Properties"]
    assert config["Properties"]["ProductionVariants"][0]["InitialInstanceCount"] == 3
    _, resource = only(serving_variant, "AWS::SageMaker::Endpoint")
    properties = resource["Properties"]
    assert "RetainAllVariantProperties" not in properties  # a fixed fleet keeps the configured count
    routing = properties["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 30},
        "WaitIntervalInSeconds": 240,
    }
    assert properties["DeploymentConfig"]["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] > 4 * 240
    for kind in ENDPOINT_TYPES[3:]:
        serving_variant.resource_count_is(kind, 0)
    host = by_sid(statements_of(serving_variant, role_id(serving_variant, "mlops-qa-model-host")))
    assert "WriteCapturedData" not in host
    assert "EncryptCapturedData" not in host
    assert host["DecryptModelData"]["Resource"] == f"arn:aws:kms:eu-west-1:{REGISTRY_ACCOUNT}:key/*"
    update = statements_of(serving_variant, role_id(serving_variant, "mlops-qa-serving-update"))
    assert not [a for a in actions_of(update) if a.startswith("application-autoscaling:")]
