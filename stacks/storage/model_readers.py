"""Registry side of cross-account serving: the artifacts bucket and the data key let the serving accounts' model host
roles read the model data (SageMaker downloads ``ModelDataUrl`` as the model's execution role).

The host roles live in the serving accounts and are created by a later stage, after this stack: a bucket or key
policy naming a role that does not exist yet fails to deploy ("Invalid principal"). So the principal is the serving
account and the condition ``aws:PrincipalArn`` names the host role, which also keeps every other role of that
account out even when its own policies would allow more.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common.model_consumer import ModelConsumer


class CrossAccountModelReaders(Construct):
    """Grants each of ``consumers`` ``s3:GetObject`` on ``model_data_prefix`` of ``bucket`` and ``kms:Decrypt`` with
    ``key`` through S3 on that bucket only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        consumers: Sequence[ModelConsumer],
        bucket: s3.IBucket,
        key: kms.IKey,
        bucket_name: str,
        model_data_prefix: str,
    ) -> None:
        """``bucket_name``: the bucket's literal name; the key policy names the bucket by it, since a reference to the
        bucket (encrypted with this key) would make the two depend on each other."""
        super().__init__(scope, construct_id)
        if not consumers:
            raise ValueError(f"{self.node.path}: no cross-account consumer to grant")
        stack = cdk.Stack.of(self)
        accounts = sorted({c.account for c in consumers})
        principals: list[iam.IPrincipal] = [iam.AccountPrincipal(account) for account in accounts]
        host_roles = {"aws:PrincipalArn": sorted(arn for c in consumers for arn in c.reader_role_arns(stack.partition))}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsReadModelData",
                principals=principals,
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{model_data_prefix}*")],
                conditions={"ArnEquals": host_roles},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsDecryptModelData",
                principals=principals,
                actions=["kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "ArnEquals": host_roles,
                    "StringEquals": {
                        "kms:ViaService": f"s3.{stack.region}.{stack.url_suffix}",
                        "kms:EncryptionContext:aws:s3:arn": f"arn:{stack.partition}:s3:::{bucket_name}",
                    },
                },
            )
        )
