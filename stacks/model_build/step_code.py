"""The step code (one reproducible bundle) and the shipped sample, as CDK assets the SageMaker jobs read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from sagemaker_code.definition.bundle import write_bundle
from sagemaker_code.steps.hyperparameters import Hyperparameter

#: Generated inputs of assets (the step-code bundle), content-addressed so that parallel synths never collide.
BUILD_DIR = Path(__file__).resolve().parents[2] / ".build"


def model_build_fingerprint(definition: str, bundle: Path, sample: Path | None, input_prefix: str | None) -> str:
    """sha256 of everything an execution of this pipeline trains with: the definition (as built from the settings,
    before CDK tokens replace its sentinels), the step code, dataset spec and hyperparameter table (the bundle), and
    the default data (the shipped sample's bytes, or the data bucket prefix). Equal fingerprints train the same way;
    the Train step of the delivery pipeline retrains only when it changes."""
    digest = hashlib.sha256()
    data = sample.read_bytes() if sample is not None else f"s3-prefix:{input_prefix}".encode()
    for part in (definition.encode(), bundle.read_bytes(), data):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


class StepCode(Construct):
    """``code`` (the bundle) and ``sample`` (the shipped sample, when it is the default input) as S3 assets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dataset_spec: dict[str, Any],
        hyperparameters: Sequence[Hyperparameter],
        sample_data: Path | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bundle = write_bundle(BUILD_DIR / "step-code", dataset_spec, hyperparameters=hyperparameters)
        self.sample_data = sample_data
        self.code = s3_assets.Asset(self, "Bundle", path=str(self.bundle))
        self.sample = s3_assets.Asset(self, "SampleData", path=str(sample_data)) if sample_data else None

    @property
    def assets(self) -> list[s3_assets.Asset]:
        return [asset for asset in (self.code, self.sample) if asset is not None]

    def grant_read(self, role: iam.IRole) -> None:
        """Read exactly these objects: Asset.grant_read would open the whole CDK staging bucket. The objects are
        S3Prefix inputs of the jobs, which SageMaker lists first: list permission is limited to their exact keys."""
        partition = cdk.Stack.of(self).partition
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadStepCodeAndSample",
                actions=["s3:GetObject"],
                resources=[f"arn:{partition}:s3:::{a.s3_bucket_name}/{a.s3_object_key}" for a in self.assets],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListStepCodeAndSample",
                actions=["s3:ListBucket"],
                resources=[f"arn:{partition}:s3:::{self.code.s3_bucket_name}"],
                conditions={"StringEquals": {"s3:prefix": [a.s3_object_key for a in self.assets]}},
            )
        )

    def fingerprint(self, definition: str, input_prefix: str | None) -> str:
        return model_build_fingerprint(definition, self.bundle, self.sample_data, input_prefix)
