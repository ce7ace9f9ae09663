"""The two CloudWatch alarms SageMaker watches during a blue/green deployment and rolls back on.

They exist whether or not a model is live (an alarm on an endpoint that does not exist yet stays in
INSUFFICIENT_DATA, which SageMaker does not treat as tripped), so the endpoint's ``AutoRollbackConfiguration`` always
names existing alarms. Both are on the endpoint and its one variant: the variant name stays the same across
deployments (SageMaker requires it for guardrails), so the alarms see the new fleet's traffic as it arrives.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from config.serving import Deployment

#: ModelLatency is published in microseconds (SageMaker: "Endpoint invocation metrics").
MICROSECONDS_PER_MS = 1000
PERIOD = Duration.minutes(1)


class RollbackAlarms(Construct):
    """``errors``: more than ``max_5xx_errors`` 5XX responses in a minute; ``latency``: model latency p99 above
    ``max_latency_p99_ms`` in 2 of 3 minutes (one slow minute of a cold fleet does not roll back). Missing data (no
    traffic) is not breaching: a quiet endpoint must not roll back a good model."""

    def __init__(
        self, scope: Construct, construct_id: str, *, endpoint_name: str, variant_name: str, deployment: Deployment
    ) -> None:
        super().__init__(scope, construct_id)
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}
        self.errors = cloudwatch.Alarm(
            self,
            "Errors",
            alarm_name=f"{endpoint_name}-5xx-errors",
            alarm_description=f"{endpoint_name}: more than {deployment.max_5xx_errors} 5XX errors a minute; rolls "
            "back a deployment in progress",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="Invocation5XXErrors",
                dimensions_map=dimensions,
                statistic="Sum",
                period=PERIOD,
            ),
            threshold=deployment.max_5xx_errors,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency = cloudwatch.Alarm(
            self,
            "Latency",
            alarm_name=f"{endpoint_name}-model-latency-p99",
            alarm_description=f"{endpoint_name}: model latency p99 above {deployment.max_latency_p99_ms} ms; rolls "
            "back a deployment in progress",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ModelLatency",
                dimensions_map=dimensions,
                statistic="p99",
                period=PERIOD,
            ),
            threshold=deployment.max_latency_p99_ms * MICROSECONDS_PER_MS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms = [self.errors, self.latency]
