"""Application Auto Scaling of an instance endpoint's variant: target tracking on invocations per instance.

Created with the endpoint (same ``HasLiveModel`` condition, after it): a scalable target needs an existing variant.
No role is given: Application Auto Scaling uses its service-linked role for SageMaker
(``AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint``), created on first use.

SageMaker refuses an endpoint update that changes the instance type of a variant registered for autoscaling (a new
model on the same type is allowed, which is what the deploy flow does). Changing ``instance_type`` of an autoscaled
endpoint therefore takes two deploys: without ``autoscaling``, then with the new type and ``autoscaling`` again.
"""

from __future__ import annotations

from aws_cdk import CfnCondition
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.serving import AutoScaling

SCALE_IN_COOLDOWN_SECONDS = 300  # scale in slowly: a burst often comes back
SCALE_OUT_COOLDOWN_SECONDS = 60


class EndpointAutoScaling(Construct):
    """A scalable target on ``endpoint``'s ``variant_name`` within [min, max] and a target-tracking policy keeping
    ``SageMakerVariantInvocationsPerInstance`` at ``invocations_per_instance`` a minute."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        endpoint_name: str,
        variant_name: str,
        settings: AutoScaling,
        condition: CfnCondition,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = appscaling.CfnScalableTarget(
            self,
            "Target",
            service_namespace="sagemaker",
            resource_id=f"endpoint/{endpoint_name}/variant/{variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=settings.min_instances,
            max_capacity=settings.max_instances,
        )
        self.policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsPerInstance",
            policy_name=f"{endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=settings.invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
        )
        self.target.add_resource_dependency(endpoint)  # the variant must exist before it is registered
        for resource in (self.target, self.policy):
            resource.cfn_options.condition = condition
