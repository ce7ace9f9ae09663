"""The live-model parameter of a serving environment, read in that environment's account and region.

Every serving environment is read through its deployer role (config.naming.model_deployer_role_name), which trusts
this registry's deploy-flow roles, in this account too: the trigger's own role may only assume those roles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from model_deploy_trigger.decide import NO_LIVE_MODEL, LiveReader
from model_deploy_trigger.events import Target

#: Creates an SSM client for one target (its account's credentials, its region).
SsmFactory = Callable[[Target], Any]
#: The live value of an environment that cannot be read (its serving stack, and so its deployer role, not deployed
#: yet): like ``none`` for the decision; that environment's deploy step then fails with the reason.
UNREACHABLE = "unreachable"
logger = logging.getLogger(__name__)


def read_parameter(ssm: Any, name: str) -> str:
    """The parameter's value; ``none`` when it does not exist yet (that environment's storage stack is not deployed:
    its deploy step fails with the reason, and nothing live there can be replaced)."""
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return NO_LIVE_MODEL
        raise


def live_reader(ssm_for: SsmFactory) -> LiveReader:
    def read(target: Target) -> str:
        try:
            return read_parameter(ssm_for(target), target.parameter)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {"AccessDenied", "AccessDeniedException"}:
                raise
            logger.warning("cannot read the live model of %s (%s): %s", target.name, target.deployer_role_arn, error)
            return UNREACHABLE

    return read


def ssm_factory(sts: Any, session_name: str) -> SsmFactory:
    """SSM clients per target, as its deployer role (one AssumeRole per call: the function runs for seconds, the
    credentials last an hour)."""

    def ssm_for(target: Target) -> Any:
        credentials = sts.assume_role(RoleArn=target.deployer_role_arn, RoleSessionName=session_name)["Credentials"]
        return boto3.client(
            "ssm",
            region_name=target.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return ssm_for
