"""Settings of continuous delivery: the source repository, the infrastructure pipeline and notifications."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from config.base import AccountId, Region, StrictModel

CODECOMMIT_NAME_RE = re.compile(r"^[\w.-]{1,100}$")
CONNECTION_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
FULL_REPOSITORY_RE = re.compile(r"^[\w.-]+(/[\w.-]+)+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}$")
#: The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def branch_name_problem(name: str) -> str | None:
    """Why git would reject ``name`` as a branch name (``git check-ref-format --branch``), or None."""
    if not name:
        return "must not be empty"
    checks = (
        (_BAD_REF_CHARS.search(name), "must not contain spaces, control characters or any of ~ ^ : ? * [ \\"),
        (".." in name, "must not contain '..'"),
        ("@{" in name, "must not contain '@{'"),
        (name == "@", "must not be '@'"),
        (name.startswith("-"), "must not start with '-'"),
        (name.startswith("/") or name.endswith("/") or "//" in name, "must not start or end with '/' or hold '//'"),
        (name.endswith("."), "must not end with '.'"),
        (any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")),
         "no part may start with '.' or end with '.lock'"),
    )  # fmt: skip
    for failed, problem in checks:
        if failed:
            return f"{problem}, got {name!r}"
    return None


def _check_branch(value: str) -> str:
    problem = branch_name_problem(value)
    if problem:
        raise ValueError(f"not a valid git branch name: {problem}")
    return value


def _check_email(value: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        raise ValueError(f"must be an e-mail address, got {value!r}")
    return value


BranchName = Annotated[str, AfterValidator(_check_branch)]
Email = Annotated[str, AfterValidator(_check_email)]


class ConnectionSource(StrictModel):
    """A GitHub, GitLab or Bitbucket repository reached through an AWS CodeConnections connection."""

    arn: str = Field(description="ARN of an available CodeConnections connection in the delivery account.")
    repository: str = Field(description="Full repository name, e.g. my-org/mlops-platform.")

    @field_validator("arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not CONNECTION_ARN_RE.fullmatch(value):
            raise ValueError(
                "must be a CodeConnections ARN such as arn:aws:codeconnections:eu-west-1:111111111111:connection/"
                f"<uuid>, got {value!r}"
            )
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not FULL_REPOSITORY_RE.fullmatch(value):
            raise ValueError(f"must be owner/name, got {value!r}")
        return value


class SourceSettings(StrictModel):
    """Where the code lives: exactly one of a new CodeCommit repository, an existing one, or a connection."""

    repository_name: str | None = Field(default=None, description="Create a CodeCommit repository with this name.")
    existing_repository: str | None = Field(default=None, description="Import this existing CodeCommit repository.")
    connection: ConnectionSource | None = Field(default=None, description="Use a GitHub/GitLab/Bitbucket repository.")

    @field_validator("repository_name", "existing_repository")
    @classmethod
    def _codecommit_name(cls, value: str | None) -> str | None:
        if value is not None and (not CODECOMMIT_NAME_RE.fullmatch(value) or value.endswith(".git")):
            raise ValueError(
                f"must be a CodeCommit repository name (1-100 letters, digits, '.', '_', '-'; not ending in "
                f"'.git'), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceSettings:
        given = [name for name in ("repository_name", "existing_repository", "connection") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of repository_name (a new CodeCommit repository), existing_repository (an "
                f"existing CodeCommit repository) and connection (CodeConnections), got {given or 'none'}"
            )
        return self

    @property
    def is_codecommit(self) -> bool:
        return self.connection is None

    @property
    def codecommit_name(self) -> str:
        name = self.repository_name or self.existing_repository
        if name is None:
            raise ValueError("the source is a CodeConnections repository, not CodeCommit")
        return name


class DeliverySettings(StrictModel):
    """The delivery account's pipelines: infrastructure (self-mutating CDK pipeline) and model-build CI."""

    account: AccountId | None = Field(
        default=None,
        description="Delivery (tooling) account, quoted; holds the repository and pipelines. Omitted: "
        "CDK_DEFAULT_ACCOUNT, and the app says so.",
    )
    region: Region = Field(description="Region of the repository and the pipelines.")
    source: SourceSettings = Field(description="The repository every pipeline builds from.")
    branch: BranchName = Field(default="main", description="Branch whose pushes deploy the infrastructure.")
    stages: list[str] | None = Field(
        default=None,
        description="Environments the infrastructure pipeline deploys, in order. Omitted: all, in file order.",
    )
    require_approval: list[str] = Field(
        default_factory=list,
        description="Environments that wait for a manual approval before they are deployed. Every environment in "
        "delivery.stages that keeps its data (retain_data: true) must be here or in skip_approval.",
    )
    skip_approval: list[str] = Field(
        default_factory=list,
        description="Environments that keep their data (retain_data: true) and are deployed without a manual "
        "approval, on purpose: the explicit opt-out from require_approval.",
    )
    notify_on_success: list[str] = Field(
        default_factory=list,
        description="Environments whose successful deployments are announced (failures always are).",
    )
    notification_emails: list[Email] = Field(
        default_factory=list, description="E-mail addresses subscribed to the pipelines' notifications topic."
    )
    log_retention_days: int = Field(default=30, description="Retention of the CodeBuild logs, in days.")
    pull_request_approvals: int = Field(
        default=1,
        ge=0,
        le=10,
        description="CodeCommit: approvals a pull request into the delivery branch needs (an approval rule template "
        "on the repository). 0 turns the template off, explicitly. Pushing to that branch deploys to every "
        "environment: also attach the stack's DenyDirectChangesPolicyArn policy to developer roles.",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"must be one of CloudWatch Logs' retention periods {list(LOG_RETENTION_DAYS)}, got {value}"
            )
        return value
