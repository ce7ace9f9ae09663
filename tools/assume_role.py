"""A botocore session whose credentials come from AssumeRole and renew themselves before they expire.

The Train step assumes the environment's starter role with the CodeBuild role's credentials: that is role chaining,
which AWS caps at one hour whatever ``DurationSeconds`` says, while a training run may take several hours. Plain
``assume_role`` credentials would then fail the wait with ``ExpiredToken``; botocore's own refreshable machinery
(the same one a profile with ``role_arn`` uses) calls AssumeRole again before the keys expire.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

import botocore.credentials
import botocore.exceptions
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, CredentialProvider, DeferredRefreshableCredentials

SESSION_NAME = "model-build-train"


def _now() -> datetime.datetime:
    """botocore's clock, looked up at each call so that a test can move it (``botocore.credentials._local_now``)."""
    now: datetime.datetime = botocore.credentials._local_now()
    return now


class _AssumedRole(CredentialProvider):  # type: ignore[misc]  # botocore is untyped
    """The only provider of the session: always the refreshing credentials of the assumed role."""

    METHOD = "assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


def assumed_role_session(
    role_arn: str,
    region: str,
    *,
    source: Any = None,
    client_creator: Callable[..., Any] | None = None,
    session_name: str = SESSION_NAME,
) -> Any:
    """A botocore session for ``region`` acting as ``role_arn``, re-assuming the role whenever the keys near expiry.

    ``source`` is the session whose credentials call AssumeRole (default: the standard chain, i.e. CodeBuild's
    container credentials, themselves refreshing); ``client_creator`` builds the STS client (tests pass a stub).
    Nothing is called until the first request is signed.
    """
    source = source or botocore.session.Session()
    source_credentials = source.get_credentials()
    if source_credentials is None:
        raise botocore.exceptions.NoCredentialsError()
    creator = client_creator or functools.partial(
        source.create_client, region_name=source.get_config_variable("region") or region
    )
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=creator,
        source_credentials=source_credentials,
        role_arn=role_arn,
        extra_args={"RoleSessionName": session_name},
    )
    credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method=_AssumedRole.METHOD, time_fetcher=_now
    )
    session = botocore.session.Session()
    session.set_config_variable("region", region)
    session.register_component(
        "credential_provider", botocore.credentials.CredentialResolver([_AssumedRole(credentials)])
    )
    return session
