"""The monitoring alarms of one environment, each with its threshold from config and a deliberate choice of what a
missing datapoint means.

* Figures of the monitoring job (one datapoint per run): ``IGNORE``. A run that did not happen is not evidence
  either way; the alarm keeps its state (so a drift alarm does not flap back to OK and re-fire, re-triggering
  retraining), and a job that stopped running is caught by the pipeline-failure alarm.
* Endpoint errors and latency: ``NOT_BREACHING``: no traffic means no errors and no slow answers.
* No invocations: ``BREACHING``: CloudWatch publishes no Invocations datapoint when nobody called, which is exactly
  the condition.
* Pipeline failures, function errors, dead letters: ``NOT_BREACHING``: nothing published means nothing failed.

Drift, quality and bias alarms are the ones retraining listens to (:attr:`MonitoringAlarms.retraining_alarms`);
the others notify only, since retraining would not cure them (a missing column, a schema change, an outage).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from config.monitoring import MonitoringSettings
from config.serving import EndpointAlarms
from stacks.serving.rollback_alarms import MICROSECONDS_PER_MS

GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
GE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
#: The monitoring job's figures are published once per run: an hour covers the shortest sensible schedule.
FIGURE_PERIOD = cdk.Duration.hours(1)
NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING
Operator = cloudwatch.ComparisonOperator
PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"


class MonitoringAlarms(Construct):
    """``alarms`` by short name; ``retraining_alarms`` (drift, quality, bias) trigger retraining."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringSettings | None,
        health: EndpointAlarms,
        namespace: str,
        env_name: str,
        endpoint: str,
        variant: str,
        min_auc: float,
        pipelines: Sequence[str],
        topic: sns.ITopic,
    ) -> None:
        """``settings``: the monitoring job's thresholds (None: the environment is not monitored, only ``health``)."""
        super().__init__(scope, construct_id)
        self._topic = topic
        self._endpoint = endpoint
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        #: What retraining can cure: the model no longer fits the traffic or its outcomes.
        self.retraining_alarms: list[cloudwatch.Alarm] = []
        if settings is not None:
            self._figures(settings, namespace, {"Environment": env_name, "Endpoint": endpoint}, min_auc)
        self._health(health, {"EndpointName": endpoint, "VariantName": variant})
        for pipeline in pipelines:
            failed = cloudwatch.Metric(
                namespace=PIPELINE_NAMESPACE,
                metric_name="ExecutionFailed",
                statistic="Sum",
                dimensions_map={"PipelineName": pipeline},
                period=cdk.Duration.hours(1),
            )
            self._add(
                f"{pipeline}-failed",
                failed,
                GE,
                1.0,
                f"an execution of {pipeline} failed",
                cloudwatch.TreatMissingData.NOT_BREACHING,
                name=f"{pipeline}-failed",
            )

    def _health(self, health: EndpointAlarms, dimensions: dict[str, str]) -> None:
        """The endpoint's own metrics (AWS/SageMaker): no traffic is no error and no latency, but is the very
        condition of the no-invocations alarm."""
        rows: list[tuple[str, str, str, cdk.Duration, Operator, float, str, cloudwatch.TreatMissingData]] = [
            ("health-5xx-errors", "Invocation5XXErrors", "Sum", cdk.Duration.minutes(5), GT,
             float(health.max_5xx_errors), "the endpoint answers with 5XX errors", NOT_BREACHING),
            ("health-latency-p99", "ModelLatency", "p99", cdk.Duration.minutes(15), GT,
             float(health.max_latency_p99_ms * MICROSECONDS_PER_MS), "model latency p99 is high", NOT_BREACHING),
        ]  # fmt: skip
        hours = health.no_invocations_hours
        if hours is not None:
            rows.append(("health-no-invocations", "Invocations", "Sum", cdk.Duration.hours(hours), LT, 1.0,
                         f"no request in {hours} h", cloudwatch.TreatMissingData.BREACHING))  # fmt: skip
        for short, metric, statistic, period, operator, threshold, what, missing in rows:
            measured = cloudwatch.Metric(namespace="AWS/SageMaker", metric_name=metric, statistic=statistic,
                                         dimensions_map=dimensions, period=period)  # fmt: skip
            self._add(short, measured, operator, threshold, what, missing)

    def _figures(
        self, settings: MonitoringSettings, namespace: str, dimensions: dict[str, str], min_auc: float
    ) -> None:
        def figure(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=namespace, metric_name=name, dimensions_map=dimensions,
                                     statistic="Maximum", period=FIGURE_PERIOD)  # fmt: skip

        drift, quality = settings.drift, settings.quality
        figures = [
            ("feature-drift", "DriftedFeatures", GE, 1, "features drifted (PSI or test) from the live baseline"),
            ("prediction-drift", "PredictionPSI", GE, drift.prediction_psi, "predictions drifted from the test split"),
            ("auc", "AUC", LT, quality.min_auc if quality.min_auc is not None else min_auc, "AUC on ground truth low"),
            ("bias", "BiasViolations", GE, 1, "a facet's disparate impact is outside its bounds"),
            ("missing-values", "MissingValueRate", GT, drift.max_missing_rate, "a feature is missing too often"),
            ("schema", "SchemaViolationRate", GT, drift.max_schema_violation_rate, "rows violate the schema"),
        ]
        if quality.max_expected_cost is not None:
            figures.append(("cost", "ExpectedCost", GT, quality.max_expected_cost, "expected cost per prediction high"))
        for short, metric, operator, threshold, what in figures:
            self._add(short, figure(metric), operator, float(threshold), what, cloudwatch.TreatMissingData.IGNORE)
        retrain_on = ("feature-drift", "prediction-drift", "auc", "bias", "cost")
        self.retraining_alarms = [self.alarms[k] for k in retrain_on if k in self.alarms]

    def _add(  # noqa: PLR0917 - one positional per alarm column, as the tables above read
        self,
        short: str,
        metric: cloudwatch.IMetric,
        operator: cloudwatch.ComparisonOperator,
        threshold: float,
        what: str,
        missing: cloudwatch.TreatMissingData,
        *,
        name: str | None = None,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "".join(part.capitalize() for part in short.split("-")),
            alarm_name=name or f"{self._endpoint}-{short}",
            alarm_description=f"{self._endpoint}: {what}",
            metric=metric,
            threshold=threshold,
            comparison_operator=operator,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self._topic))
        self.alarms[short] = alarm
        return alarm

    def watch_retraining(self, function: lambda_.IFunction, dead_letters: sqs.IQueue) -> None:
        """Alarms on the retraining function's errors and on events that ended in its dead-letter queue."""
        self._add(
            "retraining-errors",
            function.metric_errors(period=cdk.Duration.minutes(5), statistic="Sum"),
            GE,
            1.0,
            "the retraining function failed",
            cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        depth = dead_letters.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(5), statistic="Maximum"
        )
        self._add(
            "retraining-dead-letters",
            depth,
            GE,
            1.0,
            "alarm events the retraining function could not handle are waiting in its dead-letter queue",
            cloudwatch.TreatMissingData.NOT_BREACHING,
        )
