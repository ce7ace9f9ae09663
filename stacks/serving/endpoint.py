"""The endpoint of an environment, serving whatever model package version the live-model SSM parameter names.

Why the model comes in through an SSM-typed CloudFormation parameter: CloudFormation resolves
``AWS::SSM::Parameter::Value<String>`` at every create and update, so

* ``cdk deploy`` (and the delivery pipeline) keeps the live model: the template never names a model, the parameter
  still holds the one the deploy flow wrote;
* a stack deployed before any approval finds ``none`` and creates no model, endpoint config or endpoint (condition
  ``HasLiveModel``);
* the deploy flow writes the parameter and updates this stack with its previous template: CloudFormation re-resolves
  the value, replaces the model and endpoint config, and updates the endpoint through SageMaker's blue/green
  guardrails; a failed update rolls back to the previous configuration.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.naming import CAPTURE_PREFIX, LIVE_MODEL_CFN_PARAMETER, NO_LIVE_MODEL
from config.serving import Deployment, InstanceEndpoint, ServerlessEndpoint
from stacks.serving.rollback_alarms import RollbackAlarms

#: The one production variant. Its name must never change: SageMaker's guardrails require the new endpoint config to
#: keep the old variant name, and the alarms and the autoscaling target name it.
VARIANT_NAME = "AllTraffic"

#: What the captured records decode as text (the model's content and response types).
CSV_CONTENT_TYPES = ["text/csv"]
JSON_CONTENT_TYPES = ["application/json"]
TRAFFIC_TYPE = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}


class LiveEndpoint(Construct):
    """The ``LiveModelPackage`` parameter, the ``HasLiveModel`` condition, and under it the model, the endpoint config
    and the endpoint ``endpoint_name``.

    ``capture``: (capture bucket name, data key) for an instance endpoint with data capture. The model is named
    ``model_name_prefix`` + the live version (:func:`config.naming.serving_model_name`): batch scoring names it from
    the parameter, and each version's model has its own name, so CloudFormation's replacement never collides.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        parameter_name: str,
        model_name_prefix: str,
        endpoint: ServerlessEndpoint | InstanceEndpoint,
        host_role_arn: str,
        volume_key: kms.IKey,
        capture: tuple[str, kms.IKey] | None,
        alarms: RollbackAlarms | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.parameter = cdk.CfnParameter(
            stack,  # a stack-level name: the deploy flow passes it by this key (UsePreviousValue)
            LIVE_MODEL_CFN_PARAMETER,
            type="AWS::SSM::Parameter::Value<String>",
            default=parameter_name,
            description="SSM parameter holding the ARN of the model package version to serve, or 'none'. Resolved "
            "at every deploy; written by the deploy flow.",
        )
        self.condition = cdk.CfnCondition(
            stack,
            "HasLiveModel",
            expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(self.parameter.value_as_string, NO_LIVE_MODEL)),
        )
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            model_name=cdk.Fn.join("", [model_name_prefix, live_version(self.parameter.value_as_string)]),
            execution_role_arn=host_role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=self.parameter.value_as_string
            ),
            # the model archive carries the inference code: the container needs no network
            enable_network_isolation=True,
        )
        self.config = sagemaker.CfnEndpointConfig(
            self, "Config", **self._config_properties(endpoint, volume_key, capture)
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            **self._deployment_properties(endpoint, alarms),
        )
        for resource in (self.model, self.config, self.endpoint):
            resource.cfn_options.condition = self.condition

    def _config_properties(
        self,
        endpoint: ServerlessEndpoint | InstanceEndpoint,
        volume_key: kms.IKey,
        capture: tuple[str, kms.IKey] | None,
    ) -> dict[str, Any]:
        if isinstance(endpoint, ServerlessEndpoint):
            return {
                "production_variants": [
                    sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                        variant_name=VARIANT_NAME,
                        model_name=self.model.attr_model_name,
                        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                            max_concurrency=endpoint.max_concurrency, memory_size_in_mb=endpoint.memory_mb
                        ),
                    )
                ]
            }
        properties: dict[str, Any] = {
            "production_variants": [
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.model.attr_model_name,
                    instance_type=endpoint.instance_type,
                    initial_instance_count=endpoint.instance_count,
                    initial_variant_weight=1,
                )
            ],
            "kms_key_id": volume_key.key_arn,  # the instances' storage volumes
        }
        if endpoint.data_capture is not None and capture is not None:
            bucket, key = capture
            properties["data_capture_config"] = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=endpoint.data_capture.sampling_percentage,
                destination_s3_uri=f"s3://{bucket}/{CAPTURE_PREFIX}",
                kms_key_id=key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=CSV_CONTENT_TYPES, json_content_types=JSON_CONTENT_TYPES
                ),
            )
        return properties

    @staticmethod
    def _deployment_properties(
        endpoint: ServerlessEndpoint | InstanceEndpoint, alarms: RollbackAlarms | None
    ) -> dict[str, Any]:
        """Serverless endpoints get SageMaker's default (blue/green, all at once): guardrails do not apply to them."""
        if isinstance(endpoint, ServerlessEndpoint):
            return {}
        if alarms is None:
            raise ValueError("an instance endpoint needs its rollback alarms")
        deployment = endpoint.deployment
        return {
            "deployment_config": sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=traffic_routing(deployment),
                    termination_wait_in_seconds=deployment.bake_minutes * 60,
                    maximum_execution_timeout_in_seconds=deployment.timeout_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in alarms.alarms]
                ),
            ),
            # autoscaling moves the instance count: a new model keeps the current count instead of the initial one
            "retain_all_variant_properties": True if endpoint.autoscaling is not None else None,
        }


def traffic_routing(deployment: Deployment) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
    size = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=deployment.step_percent)
    return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type=TRAFFIC_TYPE[deployment.traffic],
        wait_interval_in_seconds=deployment.wait_minutes * 60,
        canary_size=size if deployment.traffic == "canary" else None,
        linear_step_size=size if deployment.traffic == "linear" else None,
    )


def live_version(package_arn: str) -> str:
    """The version (third '/'-separated segment) of the versioned model package ARN ``package_arn`` (a token), as
    CloudFormation computes it. The trailing '/' keeps segment 2 defined for any value holding one '/' (CloudFormation
    never evaluates it for ``none``: the model is under ``HasLiveModel``; offline resolvers do)."""
    return cdk.Fn.select(2, cdk.Fn.split("/", cdk.Fn.join("", [package_arn, "/"])))
