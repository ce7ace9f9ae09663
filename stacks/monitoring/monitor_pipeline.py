"""The monitoring pipeline of one endpoint: the SageMaker Pipeline resource, the role SageMaker Pipelines runs it
as, the role its processing job runs as, and the schedule that starts it.

The job role reads exactly what the monitor reads (the window's captured data, ground truth, the live-model parameter,
the live package and its baseline in the registry) and writes its report and its metrics (namespace-conditioned).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from stacks.common.sagemaker_container import acknowledge_container_baseline, container_baseline
from stacks.compliance import acknowledge_wildcard_resource
from stacks.serving.registry import RegistrySource


class MonitorPipeline(Construct):
    """``pipeline`` (``AWS::SageMaker::Pipeline``) named ``pipeline_name`` with ``definition`` (tokens already in
    it), its processing job running as ``job_role`` (named ``job_role_name``: the registry's resource policies name
    it), started on ``schedule`` with ``WindowEnd`` set to the scheduled time (a retried start looks at the same
    window)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition: str,
        job_role_name: str,
        images: list[str],
        schedule: str,
        data_key: kms.IKey,
        registry: RegistrySource,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        partition = stack.partition
        self.job_role = iam.Role(
            self,
            "JobRole",
            role_name=job_role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"The monitoring job of {pipeline_name} runs as this role",
        )
        log_group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/ProcessingJobs",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        packages = registry.model_packages_arn(partition)
        baseline = f"{registry.artifacts_bucket_arn(partition)}/{registry.model_data_prefix}*"
        self.job_policy = iam.Policy(
            self,
            "JobPolicy",
            statements=[
                *container_baseline(
                    images=images,
                    partition=partition,
                    log_group=log_group,
                    pull_sid="PullImage",
                    logs_sid="JobLogs",
                    metrics_sid="JobMetrics",
                ),
                iam.PolicyStatement(
                    sid="DescribeLivePackage", actions=["sagemaker:DescribeModelPackage"], resources=[packages]
                ),
                iam.PolicyStatement(sid="ReadBaseline", actions=["s3:GetObject"], resources=[baseline]),
                iam.PolicyStatement(
                    sid="DecryptBaseline",
                    actions=["kms:Decrypt"],
                    resources=[registry.key_arns(partition)],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"s3.{registry.region}.{stack.url_suffix}",
                            "kms:EncryptionContext:aws:s3:arn": registry.artifacts_bucket_arn(partition),
                        }
                    },
                ),
            ],
        )
        self.job_policy.attach_to_role(self.job_role)
        acknowledge_container_baseline(self.job_policy)
        acknowledge_wildcard_resource(
            self.job_policy, packages, "The live version changes with each deployment; read-only, the registry group."
        )
        acknowledge_wildcard_resource(
            self.job_policy,
            baseline,
            "The live package's baseline and evaluation report are under its training execution's folder; read-only, "
            "the registry pipeline's prefix.",
        )
        acknowledge_wildcard_resource(
            self.job_policy,
            registry.key_arns(partition),
            "The registry's data key id is generated in its own stage (possibly another account); decryption is "
            "limited by conditions to S3 requests on the registry's artifacts bucket.",
        )
        acknowledge_wildcard_resource(
            self.job_policy,
            f"{log_group}:log-stream:*",
            "SageMaker names a processing job's log streams after the job at run time; this log group only.",
        )
        self.job_role.add_to_policy(
            iam.PolicyStatement(  # job volume, report, and the captured data and ground truth it reads
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[data_key.key_arn]
            )
        )

        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker Pipelines runs {pipeline_name} as this role",
        )
        jobs = stack.format_arn(service="sagemaker", resource="processing-job", resource_name="pipelines-*")
        run = iam.Policy(
            self,
            "RunPipeline",
            statements=[
                iam.PolicyStatement(
                    sid="RunStep",
                    actions=[
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:AddTags",
                    ],
                    resources=[jobs],
                ),
                iam.PolicyStatement(
                    sid="PassJobRole",
                    actions=["iam:PassRole"],
                    resources=[self.job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="EncryptJobVolumes",
                    actions=["kms:CreateGrant", "kms:DescribeKey"],
                    resources=[data_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
            ],
        )
        run.attach_to_role(role)
        acknowledge_wildcard_resource(
            run, jobs, "SageMaker Pipelines names the step's job pipelines-<execution id>-<step>-<suffix> at run time."
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description="Drift, quality and bias of the endpoint's captured traffic (our own monitor)",
            pipeline_definition={"PipelineDefinitionBody": definition},
            role_arn=role.role_arn,
        )
        self.pipeline.node.add_dependency(run)
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)

        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"Starts {pipeline_name} on the window before each scheduled time",
            schedule=scheduler.ScheduleExpression.expression(schedule),
            target=scheduler_targets.Universal(
                service="sagemaker",
                action="startPipelineExecution",
                input=scheduler.ScheduleTargetInput.from_object(
                    {
                        "PipelineName": pipeline_name,
                        "PipelineParameters": [
                            {"Name": "WindowEnd", "Value": scheduler.ContextAttribute.scheduled_time}
                        ],
                        # one execution per scheduled time, however often the scheduler retries
                        "ClientRequestToken": scheduler.ContextAttribute.execution_id,
                    }
                ),
                policy_statements=[
                    iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn])
                ],
                retry_attempts=3,
            ),
        )
