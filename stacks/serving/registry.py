"""Where a serving environment's models come from: its registry environment, as literal names and ARNs.

The registry environment is usually another stage (dev trains, staging and prod serve), possibly in another account:
nothing of it can be referenced as a CDK construct, so everything here is a name derived from config (the same names
the registry's own stacks are built with, see :mod:`config.naming`).
"""

from __future__ import annotations

from dataclasses import dataclass

from config.naming import bucket_name, pipeline_data_prefix


@dataclass(frozen=True)
class RegistrySource:
    """The registry environment ``env_name`` of ``project`` in ``account`` / ``region`` and its model package group."""

    project: str
    env_name: str
    account: str
    region: str
    model_package_group_name: str

    @property
    def artifacts_bucket_name(self) -> str:
        return bucket_name(self.project, self.env_name, "artifacts", self.account, self.region)

    @property
    def model_data_prefix(self) -> str:
        """Where the registry's pipeline writes model artifacts (every execution under its pipeline's prefix)."""
        return pipeline_data_prefix(self.project, self.env_name)

    def artifacts_bucket_arn(self, partition: str) -> str:
        return f"arn:{partition}:s3:::{self.artifacts_bucket_name}"

    def model_packages_arn(self, partition: str) -> str:
        """Every version of the group (versioned packages are named ``<group>/<version>``)."""
        return f"arn:{partition}:sagemaker:{self.region}:{self.account}:model-package/{self.model_package_group_name}/*"

    def key_arns(self, partition: str) -> str:
        """Any key of the registry's account and region: the data key's id is generated there, so a policy here names
        it by account and narrows the use by conditions (through S3, on the artifacts bucket only)."""
        return f"arn:{partition}:kms:{self.region}:{self.account}:key/*"
