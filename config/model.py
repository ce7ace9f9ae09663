"""Typed, validated configuration of the platform.

One :class:`PlatformConfig` is loaded once per synth (see :mod:`config.loader`). Environments differ only
through this model; every later feature adds its own settings here so that a typo in a key or a bad value
stops the app before anything is synthesized.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.base import ACCOUNT_RE, AccountId, Region, StrictModel, partition_of
from config.delivery import DeliverySettings
from config.model_build import ModelBuildSettings
from config.monitoring import MonitoringSettings, monitoring_problems
from config.naming import DELIVERY_STAGE, MAX_BUCKET_NAME, longest_bucket_name, stack_name
from config.serving import InstanceEndpoint, ServingSettings

__all__ = ["ACCOUNT_RE", "PlatformConfig", "StrictModel"]

PROJECT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
TAG_CHARS_RE = re.compile(r"^[\w\s+=.:/@-]*$", re.UNICODE)

#: Tags the app sets itself on every resource (cost allocation); config may not override them.
RESERVED_TAG_KEYS = frozenset({"project", "environment", "owner"})


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
    train_on_push: bool = Field(
        default=False,
        description="After the delivery pipeline deployed a push to this environment, train its model on that very "
        "commit, when the commit changed the model-build inputs (pipeline definition, step code, dataset spec, "
        "sample data; decided by content hash). Needs the environment in delivery.stages.",
    )
    serving: ServingSettings | None = Field(
        default=None,
        description="An endpoint serving the models approved in the registry environment, deployed by that "
        "environment's deploy flow. Omitted: this environment serves nothing.",
    )
    monitoring: MonitoringSettings | None = Field(
        default=None,
        description="Scheduled drift, quality and bias monitoring of the endpoint's captured data, alarms, a "
        "dashboard and guarded retraining. Needs an instance endpoint with data capture. Omitted: unmonitored "
        "(the app says so at synth).",
    )


class PlatformConfig(StrictModel):
    """The whole configuration file."""

    project: ProjectSettings
    environments: dict[str, EnvironmentSettings] = Field(
        description="Environments by name, in promotion order (e.g. dev, staging, prod).",
    )
    model_build: ModelBuildSettings = Field(description="The SageMaker model-build pipeline of every environment.")
    delivery: DeliverySettings | None = Field(
        default=None,
        description="The repository and the delivery pipeline (the `delivery` stage). Omitted: no delivery pipeline.",
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
        if DELIVERY_STAGE in value:
            raise ValueError(
                f"{DELIVERY_STAGE!r} is the name of the stage that holds the repository and the delivery pipeline "
                "(`cdk deploy 'delivery/*'`): name the environment otherwise"
            )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        problems = []
        for name, env in self.environments.items():
            clash = sorted(set(env.tags) & set(self.project.tags))
            if clash:
                problems.append(
                    f"environments.{name}.tags: {clash} also set in project.tags; set each tag in one place"
                )
            longest = longest_bucket_name(self.project.name, name, env.region)
            if len(longest) > MAX_BUCKET_NAME:
                problems.append(
                    f"environments.{name}: bucket names such as {longest!r} would be {len(longest)} characters, "
                    f"S3 allows {MAX_BUCKET_NAME}: shorten project.name or the environment name"
                )
        problems.extend(self._delivery_problems())
        problems.extend(self._partition_problems())
        problems.extend(self._serving_problems())
        for name, env in self.environments.items():
            problems.extend(
                monitoring_problems(
                    f"environments.{name}.monitoring", env.monitoring, env.serving, self.model_build.input_data_prefix
                )
            )
        if problems:  # one error per problem (each message starts with its key path), not one joined message
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("value_error", "{message}", {"message": problem}), loc=(), input=None
                    )
                    for problem in problems
                ],
            )
        return self

    def _delivery_problems(self) -> list[str]:
        known = list(self.environments)
        trained = [name for name, env in self.environments.items() if env.train_on_push]
        if self.delivery is None:
            return [
                f"environments.{name}.train_on_push: needs a delivery section (training runs in the delivery "
                "pipeline, after it deployed the environment)"
                for name in trained
            ]
        problems = []
        for key in ("stages", "require_approval", "skip_approval", "notify_on_success"):
            names = getattr(self.delivery, key) or []
            for index, name in enumerate(names):
                if name not in known:
                    problems.append(
                        f"delivery.{key}[{index}]: unknown environment {name!r} (known: {', '.join(known)})"
                    )
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                problems.append(f"delivery.{key}: lists {repeated} more than once")
        for key in ("require_approval", "skip_approval"):
            for index, name in enumerate(getattr(self.delivery, key)):
                if name in known and name not in self.pipeline_stages:
                    problems.append(f"delivery.{key}[{index}]: {name!r} is not deployed by delivery.stages")
        problems.extend(self._approval_problems())
        problems.extend(
            f"environments.{name}.train_on_push: {name!r} is not deployed by delivery.stages, so no push reaches it; "
            "add it there or set train_on_push: false"
            for name in trained
            if name not in self.pipeline_stages
        )
        return problems

    def _approval_problems(self) -> list[str]:
        """An environment that keeps its data is deployed after a manual approval, unless skip_approval says
        otherwise: retain_data is this file's own word that an environment's data matters (the same flag turns on
        termination protection), where names (prod, production, live) and stage order are conventions."""
        if self.delivery is None:
            return []
        approved, skipped = self.delivery.require_approval, self.delivery.skip_approval
        problems = [
            f"delivery.require_approval: {name!r} keeps its data (environments.{name}.retain_data is true) but the "
            f"delivery pipeline would deploy it without a manual approval; add {name!r} to delivery.require_approval, "
            "or to delivery.skip_approval to deploy it unattended on purpose"
            for name in self.pipeline_stages
            if name in self.environments and self.environments[name].retain_data
            if name not in approved and name not in skipped
        ]
        for index, name in enumerate(skipped):
            if name in approved:
                problems.append(
                    f"delivery.skip_approval[{index}]: {name!r} is also in delivery.require_approval; keep one"
                )
            elif name in self.environments and not self.environments[name].retain_data:
                problems.append(
                    f"delivery.skip_approval[{index}]: {name!r} does not keep its data (retain_data: false), so it "
                    "needs no opt-out; remove it (a stale opt-out would silently cover it if it kept data later)"
                )
        return problems

    def _partition_problems(self) -> list[str]:
        """Every environment and the delivery account in one partition: IAM trust and ARNs never cross one."""
        regions = {f"environments.{name}.region": env.region for name, env in self.environments.items()}
        if self.delivery is not None:
            regions["delivery.region"] = self.delivery.region
        partitions = {key: partition_of(region) for key, region in regions.items()}
        if len(set(partitions.values())) > 1:
            listed = ", ".join(f"{key} {regions[key]!r} ({partition})" for key, partition in partitions.items())
            return [f"regions: all environments and the delivery pipeline must be in one AWS partition, got {listed}"]
        connection = self.delivery.source.connection if self.delivery is not None else None
        if connection is not None:
            arn_partition = connection.arn.split(":")[1]
            expected = next(iter(partitions.values()))
            if arn_partition != expected:
                return [
                    f"delivery.source.connection.arn: is in partition {arn_partition!r}, the regions of this config "
                    f"are in {expected!r}"
                ]
        return []

    def _serving_problems(self) -> list[str]:
        """What no deployment could do: deploy from an unknown registry, from a registry that itself deploys another
        environment's models, across regions, or on an instance type the registered packages do not declare; and
        a data-keeping environment serving from a throw-away registry (its models would vanish with it)."""
        known = list(self.environments)
        problems = []
        for name, env in self.environments.items():
            if env.serving is None:
                continue
            key = f"environments.{name}.serving"
            registry = self.registry_of(name)
            if registry not in self.environments:
                problems.append(f"{key}.registry: unknown environment {registry!r} (known: {', '.join(known)})")
                continue
            source = self.environments[registry]
            if registry != name:
                if source.serving is not None and self.registry_of(registry) != registry:
                    problems.append(
                        f"{key}.registry: {registry!r} deploys the models of {self.registry_of(registry)!r} itself "
                        f"(environments.{registry}.serving.registry); an environment is either a registry (its "
                        f"endpoint serves its own models) or deploys another's: name {self.registry_of(registry)!r}"
                    )
                if env.retain_data and not source.retain_data:
                    problems.append(
                        f"{key}.registry: {name!r} keeps its data (retain_data: true) but serves models of "
                        f"{registry!r}, which does not: deleting {registry!r}'s stacks deletes the model packages "
                        f"and model data {name!r}'s endpoint needs to scale out or replace an instance. Set "
                        f"environments.{registry}.retain_data: true, or serve from a registry that keeps its data"
                    )
                if source.region != env.region:
                    problems.append(
                        f"{key}.registry: {registry!r} is in {source.region}, {name!r} in {env.region}; SageMaker "
                        "creates a model only from a model package of its own region: use a registry environment of "
                        f"region {env.region}"
                    )
            endpoint, batch = env.serving.endpoint, env.serving.batch
            used = {"endpoint": endpoint.instance_type if isinstance(endpoint, InstanceEndpoint) else None}
            used["batch"] = batch.instance_type if batch is not None else None
            allowed = self.model_build.inference_instance_types
            problems.extend(
                f"{key}.{part}.instance_type: {instance_type!r} is not among the instance types the registered model "
                f"packages support (model_build.inference_instance_types: {allowed}); add it there or choose one "
                "of them"
                for part, instance_type in used.items()
                if instance_type is not None and instance_type not in allowed
            )
        return problems

    def registry_of(self, env_name: str) -> str:
        """The environment whose model package group ``env_name`` deploys from (itself unless its serving names
        another)."""
        serving = self.environments[env_name].serving
        return serving.registry if serving is not None and serving.registry is not None else env_name

    def served_from(self, registry: str) -> list[str]:
        """The environments that deploy ``registry``'s models, in config order: the deploy flow's rollout order."""
        return [
            name
            for name, env in self.environments.items()
            if env.serving is not None and self.registry_of(name) == registry
        ]

    @property
    def partition(self) -> str:
        """The AWS partition of every region of this config (one, see _partition_problems)."""
        return partition_of(next(iter(self.environments.values())).region)

    @property
    def pipeline_stages(self) -> list[str]:
        """The environments the infrastructure pipeline deploys, in order."""
        if self.delivery is None:
            return []
        return list(self.delivery.stages) if self.delivery.stages is not None else list(self.environments)

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
        return stack_name(self.project.name, env_name, component)
