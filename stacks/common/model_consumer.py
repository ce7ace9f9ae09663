"""A serving environment in another account than the registry it deploys from, as the registry's stacks see it.

Same-account serving environments need nothing on the registry's side: their roles' identity policies suffice for
S3 and SageMaker, and the data key's policy delegates to IAM in its own account. Across accounts, IAM needs both
sides, so the registry grants each consumer account (resource policies of the group, the bucket and the key).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConsumer:
    """Serving environment ``env_name`` in ``account``, whose roles ``reader_role_names`` read the model data there
    (the endpoint's host role; the monitoring job's role, which reads the live package's baseline)."""

    env_name: str
    account: str
    reader_role_names: tuple[str, ...]

    def reader_role_arns(self, partition: str) -> list[str]:
        return [f"arn:{partition}:iam::{self.account}:role/{name}" for name in self.reader_role_names]
