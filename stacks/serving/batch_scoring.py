"""Scheduled batch scoring: an EventBridge schedule starts a SageMaker transform job of the live model over the data
bucket's input prefix (lambdas/batch_scoring), writing ``id,probability,label`` lines to the output prefix.

The job runs the serving stack's Model, i.e. the live model package version, whose inference code applies the
decision threshold stored with that package: batch labels are the labels the endpoint answers. With nothing live,
a run does nothing. The host role (the Model's execution role, which the job runs as) gets read on the input
prefix, write on the output prefix, the data key through S3 and the transform jobs' logs; the function may only
read the live-model parameter, create and describe this environment's batch jobs and pass the host role.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from config.naming import MAX_TRANSFORM_JOB_NAME
from config.serving import BatchScoring as BatchSettings
from stacks.common.powertools import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    POWERTOOLS_VERSION,
    function_code,
    powertools_layer,
)
from stacks.compliance import acknowledge, acknowledge_wildcard_resource
from stacks.model_build.package_group_cleanup import nag_resource

FUNCTION = "batch_scoring"
#: Length of the run stamp (config.naming.BATCH_RUN_STAMP, e.g. 20261201T0200Z) after the job name prefix.
RUN_STAMP_LENGTH = 14
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"


class ScheduledBatchScoring(Construct):
    """The schedule, the function and the grants of one environment's batch scoring.

    ``host_role``: the serving Model's execution role (SageMaker runs the transform job as it); ``host_role_arn`` its
    ARN as a literal (for PassRole). ``model_name_prefix``/``job_name_prefix``: from config.naming.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BatchSettings,
        environment: str,
        parameter_name: str,
        parameter_arn: str,
        model_name_prefix: str,
        job_name_prefix: str,
        data_bucket_name: str,
        data_key: kms.IKey,
        host_role: iam.IRole,
        host_role_arn: str,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        if len(job_name_prefix) + RUN_STAMP_LENGTH > MAX_TRANSFORM_JOB_NAME:
            raise ValueError(
                f"{self.node.path}: transform job names {job_name_prefix}<run> would exceed SageMaker's "
                f"{MAX_TRANSFORM_JOB_NAME} characters: shorten the project or environment name"
            )
        stack = cdk.Stack.of(self)
        bucket_arn = f"arn:{stack.partition}:s3:::{data_bucket_name}"
        jobs = stack.format_arn(service="sagemaker", resource="transform-job", resource_name=f"{job_name_prefix}*")
        self.function = self._function(
            environment,
            log_retention,
            {
                "POWERTOOLS_SERVICE_NAME": "batch-scoring",
                "POWERTOOLS_METRICS_NAMESPACE": "mlops/batch-scoring",
                "LIVE_MODEL_PARAMETER": parameter_name,
                "MODEL_NAME_PREFIX": model_name_prefix,
                "JOB_NAME_PREFIX": job_name_prefix,
                "INPUT_URI": f"s3://{data_bucket_name}/{settings.input_prefix}",
                "OUTPUT_URI": f"s3://{data_bucket_name}/{settings.output_prefix}",
                "KMS_KEY_ARN": data_key.key_arn,
                "INSTANCE_TYPE": settings.instance_type,
                "INSTANCE_COUNT": str(settings.instance_count),
            },
        )
        fn = self.function
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="RunBatchJobs", actions=["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob"],
            resources=[jobs],
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadLiveModel", actions=["ssm:GetParameter"], resources=[parameter_arn],
        ))  # fmt: skip
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="PassHostRole", actions=["iam:PassRole"], resources=[host_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ))  # fmt: skip
        policy = fn.role.node.find_child("DefaultPolicy") if fn.role else None
        if policy is None:
            raise RuntimeError(f"{fn.node.path}: the function's role has no default policy")
        acknowledge_wildcard_resource(
            policy,
            nag_resource(stack, jobs),
            "Each run's transform job is named from its schedule time (known at run time only); create and describe "
            f"only, jobs named {job_name_prefix}* of this environment.",
        )

        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"Batch scoring of {environment}: s3://{data_bucket_name}/{settings.input_prefix}",
            schedule=events.Schedule.expression(settings.schedule),
        )
        self.rule.add_target(targets.LambdaFunction(fn, retry_attempts=2, max_event_age=cdk.Duration.hours(6)))

        self.host_policy = self._host_policy(
            stack, settings, bucket_arn=bucket_arn, data_key=data_key, job_name_prefix=job_name_prefix
        )
        self.host_policy.attach_to_role(host_role)

    def _function(
        self, environment: str, log_retention: logs.RetentionDays, variables: dict[str, str]
    ) -> lambda_.Function:
        description = f"Starts the scheduled batch transform of {environment}'s live model"
        log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
        function = lambda_.Function(
            self,
            "Function",
            role=role,
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=f"{FUNCTION}.handler.handler",
            code=function_code(FUNCTION),
            layers=[powertools_layer(self, "Powertools")],
            timeout=cdk.Duration.minutes(1),
            memory_size=256,
            environment=variables,
            log_group=log_group,
        )
        log_group.grant_write(role)  # instead of the AWSLambdaBasicExecutionRole managed policy
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to {LAMBDA_RUNTIME.name}, the runtime the pinned Powertools layer {POWERTOOLS_VERSION} is "
            "resolved for (its SSM parameter names the Python version); bump both together.",
        )
        return function

    def _host_policy(
        self,
        stack: cdk.Stack,
        settings: BatchSettings,
        *,
        bucket_arn: str,
        data_key: kms.IKey,
        job_name_prefix: str,
    ) -> iam.Policy:
        """What the transform job needs beyond hosting: the input and output prefixes, the data key through S3 (the
        bucket's default encryption and the job's output KmsKeyId), and its log streams."""
        inputs = f"{bucket_arn}/{settings.input_prefix}*"
        outputs = f"{bucket_arn}/{settings.output_prefix}*"
        log_group = stack.format_arn(
            service="logs", resource="log-group", resource_name=TRANSFORM_LOG_GROUP,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )  # fmt: skip
        streams = f"{log_group}:log-stream:{job_name_prefix}*"
        policy = iam.Policy(
            self,
            "HostBatchAccess",
            statements=[
                iam.PolicyStatement(
                    sid="ListBatchInput", actions=["s3:ListBucket"], resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [settings.input_prefix, f"{settings.input_prefix}*"]}},
                ),
                iam.PolicyStatement(sid="ReadBatchInput", actions=["s3:GetObject"], resources=[inputs]),
                iam.PolicyStatement(sid="WriteBatchOutput", actions=["s3:PutObject"], resources=[outputs]),
                iam.PolicyStatement(
                    sid="BatchDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[data_key.key_arn],
                    conditions={"StringEquals": {
                        "kms:ViaService": f"s3.{stack.region}.{stack.url_suffix}",
                        "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                    }},
                ),
                iam.PolicyStatement(
                    sid="BatchLogs",
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                             "logs:DescribeLogStreams"],
                    resources=[log_group, streams],
                ),
            ],
        )  # fmt: skip
        for arn, why in (
            (inputs, "The scheduled job reads every file under the configured input prefix of the data bucket; "
                     "read-only, that prefix only."),
            (outputs, "The job writes one prediction file per input file under <output prefix><run>/; write-only, "
                      "the configured output prefix only."),
            (streams, "SageMaker names a transform job's log streams <job>/<instance> at run time; this "
                      "environment's batch jobs only."),
        ):  # fmt: skip
            acknowledge_wildcard_resource(policy, nag_resource(stack, arn), why)
        return policy
