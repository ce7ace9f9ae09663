"""A serving environment in another account than the registry it deploys from, as the registry's stacks see it.

Same-account serving environments need nothing on the registry's side: their roles' identity policies suffice for
S3 and SageMaker, and the data key's policy delegates to IAM in its own account. Across accounts, IAM needs both
sides, so the registry grants each consumer account (resource policies of the group, the bucket and the key).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConsumer:
    """Serving environment ``env_name`` in ``account``, whose endpoint runs as ``host_role_name`` there."""

    env_name: str
    account: str
    host_role_name: str

    def host_role_arn(self, partition: str) -> str:
        return f"arn:{partition}:iam::{self.account}:role/{self.host_role_name}"
