"""The deploy flow's task errors. Step Functions sees each one by its class name (the Lambda ``errorType``): the state
machine retries :class:`StackBusy` and catches every other error (notify the topic, fail the execution)."""

from __future__ import annotations


class DeployError(Exception):
    """A deploy step that cannot succeed; the message says what happened and what a person can do."""


class StackBusy(DeployError):  # noqa: N818 - the name Step Functions retries on
    """The serving stack is being updated by someone else (another deploy, ``cdk deploy``): try again later."""


class NotApproved(DeployError):  # noqa: N818
    """The package is not (any more) Approved: it is not deployed (e.g. rejected while its rollout waited)."""


class NewerVersionLive(DeployError):  # noqa: N818
    """An approved rollout would replace a newer version of the group by an older one."""


class Superseded(DeployError):  # noqa: N818
    """A rollback found that the rejected version is no longer live there: nothing to roll back any more."""


class DeploymentFailed(DeployError):  # noqa: N818
    """The stack update failed (CloudFormation rolled back); the live-model parameter is restored."""


class DeploymentTimedOut(DeployError):  # noqa: N818
    """The stack update is still running after the longest wait this flow allows."""


#: The errors the state machine retries (with backoff) instead of failing the execution.
RETRYABLE = (StackBusy.__name__,)
