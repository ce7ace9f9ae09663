"""The environment's monitoring dashboard: traffic, latency, errors; every drift, quality and bias figure with its
alarm threshold; training and monitoring executions; retraining decisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.monitoring.alarms import PIPELINE_NAMESPACE

if TYPE_CHECKING:
    from stacks.monitoring.alarms import MonitoringAlarms

WIDTH = 8


def monitoring_dashboard(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    alarms: MonitoringAlarms,
    env_name: str,
    endpoint: str,
    variant: str,
    namespace: str,
    pipelines: Sequence[str],
    retraining_namespace: str | None,
) -> cloudwatch.Dashboard:
    """One row of endpoint health, the figures (alarm widgets draw the threshold), executions and retraining."""
    dims = {"EndpointName": endpoint, "VariantName": variant}

    def sagemaker(metric: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric,
            dimensions_map=dims,
            statistic=statistic,
            period=cdk.Duration.minutes(5),
        )

    dashboard = cloudwatch.Dashboard(scope, construct_id, dashboard_name=name)
    dashboard.add_widgets(
        cloudwatch.GraphWidget(title="Traffic", left=[sagemaker("Invocations", "Sum")], width=WIDTH),
        cloudwatch.GraphWidget(
            title="Model latency (µs)",
            width=WIDTH,
            left=[sagemaker("ModelLatency", "p50"), sagemaker("ModelLatency", "p99")],
        ),
        cloudwatch.GraphWidget(
            title="Errors",
            width=WIDTH,
            left=[sagemaker("Invocation4XXErrors", "Sum"), sagemaker("Invocation5XXErrors", "Sum")],
        ),
    )
    figures = [
        cloudwatch.AlarmWidget(title=short, alarm=alarm, width=WIDTH)
        for short, alarm in alarms.alarms.items()
        if alarm.metric.namespace == namespace  # type: ignore[attr-defined]
    ]
    counts = cloudwatch.GraphWidget(
        title="Captured and labelled rows",
        width=WIDTH,
        left=[
            cloudwatch.Metric(
                namespace=namespace,
                metric_name=metric,
                statistic="Maximum",
                period=cdk.Duration.hours(1),
                dimensions_map={"Environment": env_name, "Endpoint": endpoint},
            )
            for metric in ("CapturedRows", "LabelledRows")
        ],
    )
    dashboard.add_widgets(*figures, counts)
    executions = [
        cloudwatch.Metric(
            namespace=PIPELINE_NAMESPACE,
            metric_name=metric,
            statistic="Sum",
            dimensions_map={"PipelineName": pipeline},
            period=cdk.Duration.hours(1),
            label=f"{pipeline} {metric}",
        )
        for pipeline in pipelines
        for metric in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")
    ]
    row: list[cloudwatch.IWidget] = [cloudwatch.GraphWidget(title="Pipeline executions", left=executions, width=16)]
    if retraining_namespace is not None:
        decisions = cloudwatch.MathExpression(
            # Powertools adds the service dimension: a SEARCH must name every dimension of the metric
            expression=f"SEARCH('{{{retraining_namespace},Decision,Environment,service}} "
            "MetricName=\"RetrainingDecisions\"', 'Sum', 3600)",
            label="",
            period=cdk.Duration.hours(1),
        )
        row.append(cloudwatch.GraphWidget(title="Retraining decisions", left=[decisions], width=WIDTH))
    dashboard.add_widgets(*row)
    return dashboard
