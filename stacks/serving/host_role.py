"""The role SageMaker hosts the environment's model as: read the model data, pull the image, log, capture data."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.common.sagemaker_container import acknowledge_container_baseline, container_baseline
from stacks.compliance import acknowledge_wildcard_resource
from stacks.serving.registry import RegistrySource


class ModelHostRole(Construct):
    """``role``: assumable by SageMaker; reads the registry's model data (artifacts bucket, through S3 with its data
    key), pulls ``images``, writes the endpoint's logs and, when ``capture`` is given, its captured data.

    A registry in another account grants this role (by name, :attr:`role_arn`) on its side: the artifacts bucket
    and data key policies (:mod:`stacks.storage.model_readers`) and the model package group policy for this account
    (:func:`stacks.model_build.sagemaker_pipeline.group_sharing_policy`); tests/deploy/cross_account.py checks both
    sides.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        endpoint_name: str,
        registry: RegistrySource,
        images: list[str],
        capture: tuple[str, str, kms.IKey] | None,
    ) -> None:
        """``capture``: (capture bucket name, object prefix, data key) when the endpoint captures data."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        partition = stack.partition
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker hosts the model of {endpoint_name} as this role",
        )
        self.role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=role_name)
        model_data = f"{registry.artifacts_bucket_arn(partition)}/{registry.model_data_prefix}*"
        log_group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(sid="ReadModelData", actions=["s3:GetObject"], resources=[model_data]),
            iam.PolicyStatement(
                sid="DecryptModelData",
                actions=["kms:Decrypt"],
                resources=[registry.key_arns(partition)],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"s3.{registry.region}.{stack.url_suffix}",
                        # bucket keys: S3 asks KMS with the bucket's ARN as encryption context
                        "kms:EncryptionContext:aws:s3:arn": registry.artifacts_bucket_arn(partition),
                    }
                },
            ),
            *container_baseline(
                images=images,
                partition=partition,
                log_group=log_group,
                pull_sid="PullModelImage",
                logs_sid="EndpointLogs",
                metrics_sid="EndpointMetrics",
            ),
        ]
        captured = None
        if capture is not None:
            bucket, prefix, key = capture
            captured = f"arn:{partition}:s3:::{bucket}/{prefix}*"
            statements += [
                iam.PolicyStatement(sid="WriteCapturedData", actions=["s3:PutObject"], resources=[captured]),
                iam.PolicyStatement(
                    sid="EncryptCapturedData", actions=["kms:GenerateDataKey", "kms:Encrypt"], resources=[key.key_arn]
                ),
            ]
        policy = iam.Policy(self, "Hosting", statements=statements)
        policy.attach_to_role(self.role)
        acknowledge_container_baseline(policy)
        acknowledge_wildcard_resource(
            policy,
            model_data,
            "Model artifacts are written per pipeline execution (execution ids exist only at run time); read-only, "
            "the registry pipeline's prefix of its artifacts bucket only.",
        )
        acknowledge_wildcard_resource(
            policy,
            registry.key_arns(partition),
            "The registry's data key id is generated in its own stage (possibly another account); decryption is "
            "limited by conditions to S3 requests on the registry's artifacts bucket.",
        )
        acknowledge_wildcard_resource(
            policy,
            f"{log_group}:log-stream:*",
            "SageMaker names the endpoint's log streams per variant and instance at run time; this endpoint's log "
            "group only.",
        )
        if captured is not None:
            acknowledge_wildcard_resource(
                policy,
                captured,
                "SageMaker writes captured requests and responses under <prefix>/<endpoint>/<variant>/<date>/...; "
                "write-only, this endpoint's prefix of the capture bucket only.",
            )
