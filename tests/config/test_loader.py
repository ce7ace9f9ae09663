"""Bad configuration must stop the app with one clear message per problem (file, key path, bad value)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config.base import partition_of
from config.loader import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path_from,
    load_config,
    load_dataset_spec,
    resolve_account,
)
from tests.conftest import REPO_ROOT

VALID = """\
project:
  name: mlops
  owner: team-a
environments:
  dev:
    region: eu-west-1
    retain_data: false
  prod:
    account: "123456789012"
    region: us-east-1
model_build:
  dataset_spec: datasets/spec.yaml
"""


def with_prod(lines: str) -> str:
    """VALID with ``lines`` added to the prod environment."""
    return VALID.replace("    region: us-east-1\n", "    region: us-east-1\n" + lines)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_valid_config_loads_in_order_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert list(config.environments) == ["dev", "prod"]
    assert config.environments["dev"].retain_data is False
    assert config.environments["prod"].retain_data is True  # data is kept unless an environment opts out
    assert config.environments["prod"].storage.noncurrent_version_expiration_days == 90
    assert config.tags_for("dev") == {"project": "mlops", "environment": "dev", "owner": "team-a"}
    assert config.stack_name("prod", "storage") == "mlops-prod-storage"


def test_shipped_config_is_valid_and_has_the_three_environments() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert list(config.environments)[:3] == ["dev", "staging", "prod"]
    assert config.environments["prod"].retain_data is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "{path}: file is empty", id="empty-file"),
        pytest.param("# only a comment\n", "{path}: file is empty", id="comment-only"),
        pytest.param(
            "project: {name: mlops\nenvironments: {}\n",
            "{path}:2:13: invalid YAML: ",
            id="bad-yaml",
        ),
        pytest.param(
            "- dev\n- prod\n",
            "{path}: must be a mapping with 'project', 'environments', 'model_build', got list",
            id="top-level-list",
        ),
        pytest.param(
            VALID.replace("  prod:\n", "  dev:\n"),
            "{path}:8:3: invalid YAML: duplicate key 'dev' (first defined on line 5)",
            id="duplicate-env-name",
        ),
        pytest.param(
            VALID.replace('"123456789012"', '"12ab"'),
            "{path}: environments.prod.account: must be 12 digits, got '12ab'",
            id="bad-account",
        ),
        pytest.param(
            VALID.replace('"123456789012"', "123456789012"),
            "{path}: environments.prod.account: must be a string (quote it), got 123456789012 (int)",
            id="unquoted-account",
        ),
        pytest.param(
            VALID.replace("us-east-1", "europe-west1"),
            "{path}: environments.prod.region: must be an AWS region code such as 'eu-west-1', got 'europe-west1'",
            id="bad-region",
        ),
        pytest.param(
            VALID.replace("    retain_data: false", "    retian_data: false"),
            "{path}: environments.dev.retian_data: unknown key (did you mean 'retain_data'?)",
            id="typo-in-env-key",
        ),
        pytest.param(
            VALID + "enviroment: x\n",
            "{path}: enviroment: unknown key (did you mean 'environments'?)",
            id="typo-top-level-key",
        ),
        pytest.param(
            with_prod("    storage:\n      noncurrent_days: 3\n"),
            "{path}: environments.prod.storage.noncurrent_days: unknown key "
            "(did you mean 'noncurrent_version_expiration_days'?)",
            id="typo-nested-key",
        ),
        pytest.param(
            VALID.replace("retain_data: false", "retain_data: 'no'"),
            "{path}: environments.dev.retain_data: must be true or false, got 'no' (str)",
            id="bool-as-string",
        ),
        pytest.param(
            with_prod("    storage:\n      access_log_expiration_days: '30'\n"),
            "{path}: environments.prod.storage.access_log_expiration_days: must be a whole number, got '30' (str)",
            id="int-as-string",
        ),
        pytest.param(
            with_prod("    storage:\n      access_log_expiration_days: 0\n"),
            "{path}: environments.prod.storage.access_log_expiration_days: input should be greater than or equal "
            "to 1, got 0",
            id="days-out-of-range",
        ),
        pytest.param(
            "project: {name: mlops, owner: a}\nenvironments: {}\nmodel_build: {dataset_spec: s.yaml}\n",
            "{path}: environments: must list at least one environment",
            id="no-environments",
        ),
        pytest.param(
            "project:\n  name: mlops\n  owner: a\nmodel_build: {dataset_spec: s.yaml}\n",
            "{path}: environments: required key is missing",
            id="missing-environments",
        ),
        pytest.param(
            VALID.replace("  name: mlops\n", ""),
            "{path}: project.name: required key is missing",
            id="missing-project-name",
        ),
        pytest.param(
            VALID.replace("name: mlops", "name: MLOps_Platform"),
            "{path}: project.name: must be 2-20 characters of lowercase letters, digits and '-', start with a "
            "letter and not end with '-', got 'MLOps_Platform'",
            id="bad-project-name",
        ),
        pytest.param(
            VALID.replace("  prod:\n", "  Prod-1:\n"),
            "{path}: environments: environment names must be 1-10 lowercase letters or digits starting with a "
            "letter, got ['Prod-1']",
            id="bad-env-name",
        ),
        pytest.param(
            VALID.replace("  dev:\n", "  dev:\n    tags:\n      environment: test\n"),
            "{path}: environments.dev.tags: tag key 'environment' is set by the app from project/environment settings",
            id="reserved-tag",
        ),
        pytest.param(
            VALID.replace("  dev:\n", "  dev:\n    tags:\n      'aws:team': x\n"),
            "{path}: environments.dev.tags: tag key 'aws:team': the 'aws:' prefix is reserved by AWS",
            id="aws-tag-prefix",
        ),
        pytest.param(
            VALID.replace("  dev:\n", "  dev:\n    tags:\n      cost-center: 42\n"),
            "{path}: environments.dev.tags.cost-center: must be a string (quote it), got 42 (int)",
            id="tag-value-not-string",
        ),
        pytest.param(
            VALID.replace("  owner: team-a\n", "  owner: team-a\n  tags: {team: a}\n").replace(
                "  dev:\n", "  dev:\n    tags: {team: b}\n"
            ),
            "{path}: environments.dev.tags: ['team'] also set in project.tags; set each tag in one place",
            id="tag-in-two-places",
        ),
        pytest.param(
            VALID.replace("name: mlops", "name: mlops-platform-teamx").replace("  prod:\n", "  production:\n"),
            "{path}: environments.production: bucket names such as "
            "'mlops-platform-teamx-production-artifacts-000000000000-us-east-1' would be 64 characters, S3 allows "
            "63: shorten project.name or the environment name",
            id="bucket-name-too-long",
        ),
        pytest.param(
            VALID.replace("  dataset_spec: datasets/spec.yaml\n", "  dataset_spec: d.yaml\n  auc_threshold: 1.5\n"),
            "{path}: model_build.auc_threshold: input should be less than or equal to 1, got 1.5",
            id="auc-threshold-out-of-range",
        ),
        pytest.param(
            VALID.replace(
                "  dataset_spec: datasets/spec.yaml\n", "  dataset_spec: d.yaml\n  training_instance_type: m5\n"
            ),
            "{path}: model_build.training_instance_type: must be a SageMaker instance type such as 'ml.m5.large', "
            "got 'm5'",
            id="bad-instance-type",
        ),
        pytest.param(
            VALID.replace(
                "  dataset_spec: datasets/spec.yaml\n", "  dataset_spec: d.yaml\n  input_data_prefix: data\n"
            ),
            "{path}: model_build.input_data_prefix: must be an S3 key prefix ending in '/', e.g. 'datasets/credit/', "
            "got 'data'",
            id="bad-input-prefix",
        ),
        pytest.param(
            VALID.replace(
                "  dataset_spec: datasets/spec.yaml\n", "  dataset_spec: d.yaml\n  disparate_impact: {lower: 1.2}\n"
            ),
            "{path}: model_build.disparate_impact.lower: input should be less than 1, got 1.2",
            id="bad-di-bound",
        ),
        pytest.param(
            VALID.replace("  dev:\n    region: eu-west-1\n    retain_data: false\n", "  dev: eu-west-1\n"),
            "{path}: environments.dev: must be a mapping of key: value, got 'eu-west-1' (str)",
            id="env-not-a-mapping",
        ),
    ],
)
def test_bad_config_names_file_key_and_value(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected.format(path=path)), problems[0]


def test_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: config file not found"]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace('"123456789012"', '"1"').replace("us-east-1", "mars-1").replace("retain_data", "keep"),
    )
    problems = sorted(problems_of(path))
    assert problems[:2] == [
        f"{path}: environments.dev.keep: unknown key (known keys: account, region, retain_data, owner, tags, "
        "storage, train_on_push, serving, monitoring)",
        f"{path}: environments.prod.account: must be 12 digits, got '1'",
    ]
    assert problems[2].startswith(
        f"{path}: environments.prod.region: must be an AWS region code such as 'eu-west-1', got 'mars-1'; the regions "
        "botocore knows: af-south-1, "
    )
    assert len(problems) == 3


class TestAccountFallback:
    def test_configured_account_wins(self, tmp_path: Path) -> None:
        path = write(tmp_path, VALID)
        resolved = resolve_account(load_config(path), "prod", path, "999999999999")
        assert (resolved.account, resolved.note) == ("123456789012", None)

    def test_missing_account_falls_back_loudly(self, tmp_path: Path) -> None:
        path = write(tmp_path, VALID)
        resolved = resolve_account(load_config(path), "dev", path, "999999999999")
        assert resolved.account == "999999999999"
        assert resolved.note == f"{path}: environments.dev.account: not set, using CDK_DEFAULT_ACCOUNT=999999999999"

    @pytest.mark.parametrize("default", [None, ""])
    def test_missing_account_without_credentials_is_an_error(self, tmp_path: Path, default: str | None) -> None:
        path = write(tmp_path, VALID)
        with pytest.raises(ConfigError, match=r"environments\.dev\.account: not set, and CDK_DEFAULT_ACCOUNT is empty"):
            resolve_account(load_config(path), "dev", path, default)

    def test_bad_default_account_is_an_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, VALID)
        with pytest.raises(ConfigError, match=r"CDK_DEFAULT_ACCOUNT='abc' is not 12 digits"):
            resolve_account(load_config(path), "dev", path, "abc")


class TestConfigSelection:
    def test_default(self) -> None:
        assert config_path_from(None, {}) == DEFAULT_CONFIG_PATH

    def test_env_var(self) -> None:
        assert config_path_from(None, {CONFIG_ENV_VAR: "other.yaml"}) == Path("other.yaml")

    def test_context_wins_over_env_var(self) -> None:
        assert config_path_from("ctx.yaml", {CONFIG_ENV_VAR: "other.yaml"}) == Path("ctx.yaml")

    @pytest.mark.parametrize("value", ["", 3, ["a.yaml"]])
    def test_bad_context_value(self, value: object) -> None:
        with pytest.raises(ConfigError, match=r"-c config=\.\.\.: must be a file path"):
            config_path_from(value, {})


class TestDatasetSpecFile:
    SPEC = (REPO_ROOT / "config" / "datasets" / "german_credit.yaml").read_text()

    def setup(self, tmp_path: Path, spec_text: str, extra: str = "") -> Path:
        (tmp_path / "datasets").mkdir()
        (tmp_path / "datasets" / "spec.yaml").write_text(spec_text)
        return write(tmp_path, VALID + extra)

    def test_shipped_spec_loads(self, tmp_path: Path) -> None:
        path = self.setup(tmp_path, self.SPEC)
        spec = load_dataset_spec(load_config(path), path)
        assert spec.name == "german-credit"
        assert [f.name for f in spec.facets] == ["age", "sex"]

    def test_missing_spec_file(self, tmp_path: Path) -> None:
        path = write(tmp_path, VALID)
        with pytest.raises(ConfigError) as info:
            load_dataset_spec(load_config(path), path)
        assert info.value.problems == [
            f"{path}: model_build.dataset_spec: file not found: {tmp_path / 'datasets/spec.yaml'} (relative to "
            f"{tmp_path})"
        ]

    def test_bad_spec_names_the_spec_file_and_key(self, tmp_path: Path) -> None:
        path = self.setup(tmp_path, self.SPEC.replace('positive: "1"}', 'positive: "1", decision_threshold: 2}'))
        with pytest.raises(ConfigError) as info:
            load_dataset_spec(load_config(path), path)
        assert info.value.problems == [
            f"{tmp_path / 'datasets' / 'spec.yaml'}: label.decision_threshold: input should be less than 1, got 2"
        ]

    def test_missing_sample_is_an_error_only_without_input_prefix(self, tmp_path: Path) -> None:
        spec = self.SPEC.replace("data/german_credit/german.data", "data/nope.data")
        path = self.setup(tmp_path, spec)
        with pytest.raises(ConfigError, match=r"sample_path: file not found: .*data/nope\.data"):
            load_dataset_spec(load_config(path), path)
        path.write_text(VALID + "  input_data_prefix: datasets/credit/\n")
        assert load_dataset_spec(load_config(path), path).sample_path == "data/nope.data"


DELIVERY = """\
delivery:
  region: eu-west-1
  source:
    repository_name: mlops-platform
  stages: [dev, prod]
  require_approval: [prod]
"""


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        pytest.param(
            DELIVERY.replace("stages: [dev, prod]", "stages: [dev, qa, prod]"),
            "{path}: delivery.stages[1]: unknown environment 'qa' (known: dev, prod)",
            id="unknown-env-in-order",
        ),
        pytest.param(
            DELIVERY.replace("require_approval: [prod]", "require_approval: [production, prod]"),
            "{path}: delivery.require_approval[0]: unknown environment 'production' (known: dev, prod)",
            id="approval-on-unknown-env",
        ),
        pytest.param(
            DELIVERY.replace("stages: [dev, prod]", "stages: [dev]"),
            "{path}: delivery.require_approval[0]: 'prod' is not deployed by delivery.stages",
            id="approval-on-env-not-deployed",
        ),
        pytest.param(
            DELIVERY.replace("stages: [dev, prod]", "stages: [dev, dev, prod]"),
            "{path}: delivery.stages: lists ['dev'] more than once",
            id="env-deployed-twice",
        ),
        pytest.param(
            DELIVERY.replace(
                "    repository_name: mlops-platform\n",
                "    repository_name: mlops-platform\n    connection:\n      arn: "
                "arn:aws:codeconnections:eu-west-1:111111111111:connection/12345678-1234-1234-1234-123456789012\n"
                "      repository: org/repo\n",
            ),
            "{path}: delivery.source: set exactly one of repository_name (a new CodeCommit repository), "
            "existing_repository (an existing CodeCommit repository) and connection (CodeConnections), got "
            "['repository_name', 'connection']",
            id="codecommit-and-connection",
        ),
        pytest.param(
            DELIVERY.replace("    repository_name: mlops-platform\n", "    {}\n"),
            "{path}: delivery.source: set exactly one of repository_name",
            id="no-source",
        ),
        pytest.param(
            DELIVERY.replace(
                "    repository_name: mlops-platform\n",
                "    connection: {arn: 'arn:aws:s3:::bucket', repository: org/repo}\n",
            ),
            "{path}: delivery.source.connection.arn: must be a CodeConnections ARN",
            id="bad-connection-arn",
        ),
        pytest.param(
            DELIVERY + "  branch: 'feature..x'\n",
            "{path}: delivery.branch: not a valid git branch name: must not contain '..', got 'feature..x'",
            id="branch-with-dots",
        ),
        pytest.param(
            DELIVERY + "  branch: 'my branch'\n",
            "{path}: delivery.branch: not a valid git branch name: must not contain spaces, control characters or "
            "any of ~ ^ : ? * [ \\, got 'my branch'",
            id="branch-with-space",
        ),
        pytest.param(
            DELIVERY + "  branch: release.lock\n",
            "{path}: delivery.branch: not a valid git branch name: no part may start with '.' or end with '.lock', "
            "got 'release.lock'",
            id="branch-lock",
        ),
        pytest.param(
            DELIVERY + "  branch: feature/\n",
            "{path}: delivery.branch: not a valid git branch name: must not start or end with '/' or hold '//', got "
            "'feature/'",
            id="branch-trailing-slash",
        ),
        pytest.param(
            DELIVERY + "  notification_emails: [not-an-address]\n",
            "{path}: delivery.notification_emails[0]: must be an e-mail address, got 'not-an-address'",
            id="bad-email",
        ),
        pytest.param(
            DELIVERY + "  log_retention_days: 10\n",
            "{path}: delivery.log_retention_days: must be one of CloudWatch Logs' retention periods",
            id="bad-retention",
        ),
        pytest.param(
            DELIVERY.replace("region: eu-west-1", "region: west"),
            "{path}: delivery.region: must be an AWS region code such as 'eu-west-1', got 'west'",
            id="bad-delivery-region",
        ),
    ],
)
def test_bad_delivery_config(tmp_path: Path, delivery: str, expected: str) -> None:
    path = write(tmp_path, VALID + delivery)
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected.format(path=path)), problems[0]


def train_dev(text: str) -> str:
    return text.replace("    retain_data: false\n", "    retain_data: false\n    train_on_push: true\n")


def test_train_on_push_needs_a_delivery_section(tmp_path: Path) -> None:
    path = write(tmp_path, train_dev(VALID))
    assert problems_of(path) == [
        f"{path}: environments.dev.train_on_push: needs a delivery section (training runs in the delivery pipeline, "
        "after it deployed the environment)"
    ]


def test_train_on_push_needs_the_environment_in_the_delivery_stages(tmp_path: Path) -> None:
    path = write(tmp_path, train_dev(VALID) + DELIVERY.replace("  stages: [dev, prod]\n", "  stages: [prod]\n"))
    assert problems_of(path) == [
        f"{path}: environments.dev.train_on_push: 'dev' is not deployed by delivery.stages, so no push reaches it; "
        "add it there or set train_on_push: false"
    ]
    assert load_config(write(tmp_path, train_dev(VALID) + DELIVERY)).environments["dev"].train_on_push is True


def test_the_old_train_on_push_mapping_is_refused_clearly(tmp_path: Path) -> None:
    text = VALID.replace("    retain_data: false\n", "    retain_data: false\n    train_on_push: {branch: main}\n")
    path = write(tmp_path, text + DELIVERY)
    assert problems_of(path) == [
        f"{path}: environments.dev.train_on_push: must be true or false, got {{'branch': 'main'}} (dict)"
    ]


@pytest.mark.parametrize(
    ("dev_region", "delivery_region", "partitions"),
    [
        ("cn-north-1", "eu-west-1", "environments.dev.region 'cn-north-1' (aws-cn), environments.prod.region "
         "'us-east-1' (aws), delivery.region 'eu-west-1' (aws)"),
        ("eu-west-1", "us-gov-west-1", "environments.dev.region 'eu-west-1' (aws), environments.prod.region "
         "'us-east-1' (aws), delivery.region 'us-gov-west-1' (aws-us-gov)"),
    ],
)  # fmt: skip
def test_every_region_must_be_in_one_partition(
    tmp_path: Path, dev_region: str, delivery_region: str, partitions: str
) -> None:
    text = VALID.replace("    region: eu-west-1\n", f"    region: {dev_region}\n", 1)
    path = write(tmp_path, text + DELIVERY.replace("region: eu-west-1", f"region: {delivery_region}"))
    assert problems_of(path) == [
        f"{path}: regions: all environments and the delivery pipeline must be in one AWS partition, got {partitions}"
    ]


def test_a_connection_of_another_partition_is_refused(tmp_path: Path) -> None:
    arn = "arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/12345678-1234-1234-1234-123456789012"
    delivery = DELIVERY.replace(
        "    repository_name: mlops-platform\n", f"    connection: {{arn: '{arn}', repository: a/b}}\n"
    )
    path = write(tmp_path, VALID + delivery)
    assert problems_of(path) == [
        f"{path}: delivery.source.connection.arn: is in partition 'aws-cn', the regions of this config are in 'aws'"
    ]


def test_partition_of_agrees_with_botocore_for_every_region_it_knows() -> None:
    import botocore.session

    data = botocore.session.get_session().get_data("endpoints")
    checked = 0
    for partition in data["partitions"]:
        for region in partition["regions"]:
            assert partition_of(region) == partition["partition"], region
            checked += 1
    assert checked > 30


def test_delivery_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + DELIVERY.replace("  stages: [dev, prod]\n", "")))
    assert config.pipeline_stages == ["dev", "prod"]
    assert config.delivery is not None
    assert config.delivery.branch == "main"
    assert config.delivery.source.codecommit_name == "mlops-platform"


def test_an_environment_may_not_take_the_delivery_stages_name(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("  dev:\n", "  delivery:\n"))
    assert problems_of(path) == [
        f"{path}: environments: 'delivery' is the name of the stage that holds the repository and the delivery "
        "pipeline (`cdk deploy 'delivery/*'`): name the environment otherwise"
    ]
