"""Typed, validated configuration of the platform.

One :class:`PlatformConfig` is loaded once per synth (see :mod:`config.loader`). Environments differ only
through this model; every later feature adds its own settings here so that a typo in a key or a bad value
stops the app before anything is synthesized.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

ACCOUNT_RE = re.compile(r"^\d{12}$")
# Commercial, China, GovCloud and ISO partitions: <area>[-gov|-iso*]-<direction>-<n>
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
PROJECT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
TAG_CHARS_RE = re.compile(r"^[\w\s+=.:/@-]*$", re.UNICODE)

#: Tags the app sets itself on every resource (cost allocation); config may not override them.
RESERVED_TAG_KEYS = frozenset({"project", "environment", "owner"})


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors and values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_account(value: str) -> str:
    if not ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"must be 12 digits, got {value!r}")
    return value


def _check_region(value: str) -> str:
    if not REGION_RE.fullmatch(value):
        raise ValueError(f"must be an AWS region code such as 'eu-west-1', got {value!r}")
    return value


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    problems: list[str] = []
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            problems.append(f"tag key {key!r} must be 1 to 128 characters")
        if len(value) > 256:
            problems.append(f"tag {key!r}: value must be at most 256 characters")
        if key.lower().startswith("aws:"):
            problems.append(f"tag key {key!r}: the 'aws:' prefix is reserved by AWS")
        if key.lower() in RESERVED_TAG_KEYS:
            problems.append(f"tag key {key!r} is set by the app from project/environment settings")
        for what, text in (("key", key), ("value", value)):
            if not TAG_CHARS_RE.fullmatch(text):
                problems.append(f"tag {what} {text!r} may only use letters, digits, spaces and + - = . _ : / @")
    if problems:
        raise ValueError("; ".join(problems))
    return tags


AccountId = Annotated[str, AfterValidator(_check_account)]
Region = Annotated[str, AfterValidator(_check_region)]
Tags = Annotated[dict[str, str], AfterValidator(_check_tags)]


class StorageSettings(StrictModel):
    """Lifecycle of the project's S3 buckets."""

    noncurrent_version_expiration_days: int = Field(
        default=90, ge=1, le=3650, description="Days a replaced or deleted object version is kept."
    )
    abort_incomplete_multipart_upload_days: int = Field(
        default=7, ge=1, le=365, description="Days after which incomplete multipart uploads are aborted."
    )
    access_log_expiration_days: int = Field(
        default=365, ge=1, le=3650, description="Days S3 server access logs are kept."
    )
    data_capture_expiration_days: int = Field(
        default=180, ge=1, le=3650, description="Days endpoint data-capture records are kept."
    )


class ProjectSettings(StrictModel):
    """Settings shared by every environment."""

    name: str = Field(description="Prefix of every stack and resource name (lowercase, 2-20 chars, a-z 0-9 -).")
    owner: str = Field(min_length=1, max_length=256, description="Team owning the resources (`owner` cost tag).")
    tags: Tags = Field(default_factory=dict, description="Extra tags on every resource of every environment.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROJECT_NAME_RE.fullmatch(value):
            raise ValueError(
                f"must be 2-20 characters of lowercase letters, digits and '-', start with a letter and "
                f"not end with '-', got {value!r}"
            )
        return value


class EnvironmentSettings(StrictModel):
    """One deployment environment (one `cdk.Stage`)."""

    account: AccountId | None = Field(
        default=None,
        description="12-digit AWS account id, quoted. Omitted: the account of the deploying credentials "
        "(CDK_DEFAULT_ACCOUNT), and the app says so.",
    )
    region: Region = Field(description="AWS region code, e.g. eu-west-1.")
    retain_data: bool = Field(
        default=True,
        description="Keep buckets and the data key when the stack is deleted. false also empties buckets on "
        "deletion (for throw-away environments).",
    )
    owner: str | None = Field(
        default=None, min_length=1, max_length=256, description="Overrides project.owner for this environment."
    )
    tags: Tags = Field(default_factory=dict, description="Extra tags on every resource of this environment.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Bucket lifecycle settings.")


class PlatformConfig(StrictModel):
    """The whole configuration file."""

    project: ProjectSettings
    environments: dict[str, EnvironmentSettings] = Field(
        description="Environments by name, in promotion order (e.g. dev, staging, prod).",
    )

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, EnvironmentSettings]) -> dict[str, EnvironmentSettings]:
        if not value:
            raise ValueError("must list at least one environment")
        bad = [name for name in value if not ENV_NAME_RE.fullmatch(name)]
        if bad:
            raise ValueError(
                f"environment names must be 1-10 lowercase letters or digits starting with a letter, got {bad}"
            )
        return value

    @model_validator(mode="after")
    def _unique_owners_tags(self) -> PlatformConfig:
        for name, env in self.environments.items():
            clash = sorted(set(env.tags) & set(self.project.tags))
            if clash:
                raise ValueError(
                    f"environments.{name}.tags: {clash} also set in project.tags; set each tag in one place"
                )
        return self

    def owner_of(self, env_name: str) -> str:
        return self.environments[env_name].owner or self.project.owner

    def tags_for(self, env_name: str) -> dict[str, str]:
        """Every tag an environment's resources carry: cost-allocation tags first, then extra ones."""
        env = self.environments[env_name]
        return {
            "project": self.project.name,
            "environment": env_name,
            "owner": self.owner_of(env_name),
            **self.project.tags,
            **env.tags,
        }

    def stack_name(self, env_name: str, component: str) -> str:
        return f"{self.project.name}-{env_name}-{component}"
