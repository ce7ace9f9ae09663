"""Every bad serving config is refused with one clear message naming the key and why (SageMaker's rules included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import DEFAULT_CONFIG_PATH, ConfigError, load_config
from config.model import PlatformConfig
from config.serving import MAX_DEPLOYMENT_SECONDS, NOT_SERVERLESS, Deployment, InstanceEndpoint, ServerlessEndpoint
from tests.config.test_loader import VALID, write

#: VALID has dev (eu-west-1, retain_data false) and prod (us-east-1); qa joins dev's region for registry tests.
WITH_QA = VALID.replace("  prod:\n", "  qa:\n    region: eu-west-1\n    retain_data: false\n  prod:\n")
#: The same with a throw-away prod, where a rule other than data retention is under test.
THROWAWAY_PROD = WITH_QA.replace("    region: us-east-1\n", "    region: us-east-1\n    retain_data: false\n")


def serving(env_name: str, block: str, text: str = WITH_QA) -> str:
    """``text`` with ``block`` (YAML under ``serving:``, indented 6) added to ``env_name``."""
    marker = f"  {env_name}:\n"
    assert marker in text
    return text.replace(marker, f"{marker}    serving:\n{block}", 1)


def load(tmp_path: Path, text: str) -> PlatformConfig:
    return load_config(write(tmp_path, text))


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    prefix = f"{path}: "
    assert all(p.startswith(prefix) for p in info.value.problems), info.value.problems
    return [p.removeprefix(prefix) for p in info.value.problems]


SERVERLESS = "      endpoint: {type: serverless}\n"


def instances(extra: str = "") -> str:
    return "      endpoint:\n        type: instances\n" + extra


def test_defaults_are_valid_for_both_endpoint_types(tmp_path: Path) -> None:
    text = serving("dev", SERVERLESS)
    text = serving("qa", "      registry: dev\n" + instances(), text)
    config = load(tmp_path, text)
    dev, qa = config.environments["dev"].serving, config.environments["qa"].serving
    assert dev is not None
    assert isinstance(dev.endpoint, ServerlessEndpoint)
    assert qa is not None
    assert isinstance(qa.endpoint, InstanceEndpoint)
    assert qa.endpoint.data_capture is not None  # capture is on unless turned off
    assert qa.endpoint.deployment.traffic == "canary"
    assert qa.endpoint.instance_count >= 2
    assert config.environments["prod"].serving is None
    assert config.registry_of("dev") == "dev"
    assert config.registry_of("qa") == "dev"
    assert config.served_from("dev") == ["dev", "qa"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("instance_type", "ml.m5.large"),
        ("instance_count", "2"),
        ("autoscaling", "{min_instances: 2}"),
        ("data_capture", "{sampling_percentage: 10}"),
        ("deployment", "{traffic: canary}"),
    ],
)
def test_serverless_refuses_instance_settings_and_says_why(tmp_path: Path, key: str, value: str) -> None:
    text = serving("dev", f"      endpoint: {{type: serverless, {key}: {value}}}\n")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("environments.dev.serving.endpoint")
    assert f"{key}: {NOT_SERVERLESS[key]}" in problem
    assert "use type: instances" in problem


def test_serverless_data_capture_names_monitoring(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, serving("dev", "      endpoint: {type: serverless, data_capture: {}}\n"))
    assert "does not capture data of serverless endpoints" in problem


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param(
            "      endpoint: {type: serverless, memory_mb: 1500}\n",
            "memory_mb must be one of [1024, 2048, 3072, 4096, 5120, 6144], got 1500",
            id="memory-not-a-gb-step",
        ),
        pytest.param(
            "      endpoint: {type: serverless, max_concurrency: 0}\n",
            "max_concurrency",
            id="no-concurrency",
        ),
        pytest.param(
            instances("        autoscaling: {min_instances: 3, max_instances: 2}\n        instance_count: 3\n"),
            "max_instances (2) must be at least min_instances (3)",
            id="max-below-min",
        ),
        pytest.param(
            instances("        instance_count: 5\n        autoscaling: {min_instances: 2, max_instances: 4}\n"),
            "instance_count (5) must be within autoscaling's [2, 4]",
            id="count-outside-autoscaling",
        ),
        pytest.param(
            instances("        instance_count: 1\n"),
            "deployment.traffic canary needs at least 2 instances, instance_count is 1",
            id="canary-on-one-instance",
        ),
        pytest.param(
            instances(
                "        instance_count: 2\n        autoscaling: {min_instances: 1, max_instances: 3}\n"
                "        deployment: {traffic: linear, step_percent: 50}\n"
            ),
            "deployment.traffic linear needs at least 2 instances, autoscaling.min_instances is 1",
            id="linear-may-scale-to-one",
        ),
        pytest.param(
            instances("        deployment: {traffic: linear, step_percent: 5}\n"),
            "step_percent (5) must be at least 10 with traffic linear",
            id="linear-step-too-small",
        ),
        pytest.param(
            instances("        deployment: {traffic: canary, step_percent: 60}\n"),
            "step_percent",
            id="canary-above-half",
        ),
        pytest.param(
            instances("        deployment: {traffic: linear, step_percent: 10, wait_minutes: 60}\n"),
            f"SageMaker stops a deployment after {MAX_DEPLOYMENT_SECONDS // 60}",
            id="deployment-too-long",
        ),
        pytest.param(
            instances("        deployment: {bake_minutes: 120}\n"),
            "bake_minutes",
            id="bake-above-an-hour",
        ),
        pytest.param(
            instances("        data_capture: {sampling_percentage: 0}\n"),
            "sampling_percentage",
            id="capture-nothing",
        ),
        pytest.param("      endpoint: {type: gpu}\n", "endpoint", id="unknown-endpoint-type"),
        pytest.param("      registry: dev\n", "endpoint", id="no-endpoint"),
        pytest.param(SERVERLESS + "      smoke_test: {rows: 0}\n", "smoke_test.rows", id="smoke-test-no-rows"),
        pytest.param(SERVERLESS + "      require_aproval: true\n", "require_aproval", id="typo"),
    ],
)
def test_bad_endpoint_settings_are_named(tmp_path: Path, block: str, expected: str) -> None:
    (problem,) = problems(tmp_path, serving("dev", block))
    assert problem.startswith("environments.dev.serving"), problem
    assert expected in problem


def test_all_at_once_may_run_on_one_instance(tmp_path: Path) -> None:
    block = instances("        instance_count: 1\n        deployment: {traffic: all_at_once}\n")
    endpoint = load(tmp_path, serving("dev", block)).environments["dev"].serving
    assert endpoint is not None
    assert isinstance(endpoint.endpoint, InstanceEndpoint)


def test_unknown_registry_is_named_with_the_known_ones(tmp_path: Path) -> None:
    assert problems(tmp_path, serving("qa", "      registry: stage\n" + SERVERLESS)) == [
        "environments.qa.serving.registry: unknown environment 'stage' (known: dev, qa, prod)"
    ]


def test_a_registry_must_serve_its_own_models(tmp_path: Path) -> None:
    """qa deploys dev's models while prod names qa as its registry: qa's group would feed prod models qa never
    serves; the chain is refused at the environment that names it."""
    text = serving("dev", SERVERLESS)
    text = serving("qa", "      registry: dev\n" + SERVERLESS, text)
    text = text.replace("    region: us-east-1\n", "    region: eu-west-1\n    retain_data: false\n")
    text = serving("prod", "      registry: qa\n" + SERVERLESS, text)
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("environments.prod.serving.registry: 'qa' deploys the models of 'dev' itself")
    assert "name 'dev'" in problem


def test_an_environment_naming_itself_is_its_own_registry(tmp_path: Path) -> None:
    text = serving("dev", "      registry: dev\n" + SERVERLESS)
    text = serving("qa", "      registry: dev\n" + SERVERLESS, text)
    assert load(tmp_path, text).served_from("dev") == ["dev", "qa"]


def test_the_registry_must_be_in_the_same_region(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, serving("prod", "      registry: dev\n" + SERVERLESS, THROWAWAY_PROD))
    assert problem == (
        "environments.prod.serving.registry: 'dev' is in eu-west-1, 'prod' in us-east-1; SageMaker creates a model "
        "only from a model package of its own region: use a registry environment of region us-east-1"
    )


def test_the_instance_type_must_be_one_the_packages_support(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, serving("dev", instances("        instance_type: ml.c5.xlarge\n")))
    assert problem.startswith("environments.dev.serving.endpoint.instance_type: 'ml.c5.xlarge' is not among")
    assert "model_build.inference_instance_types: ['ml.m5.large']" in problem
    fixed = serving("dev", instances("        instance_type: ml.c5.xlarge\n")).replace(
        "model_build:\n", "model_build:\n  inference_instance_types: [ml.m5.large, ml.c5.xlarge]\n"
    )
    assert load(tmp_path, fixed).environments["dev"].serving is not None


def test_one_message_per_problem(tmp_path: Path) -> None:
    text = serving("dev", instances("        instance_type: ml.c5.xlarge\n"))
    text = serving("qa", "      registry: nope\n" + SERVERLESS, text)
    text = serving("prod", "      registry: dev\n" + SERVERLESS, text)
    found = problems(tmp_path, text)
    assert [p.split(":")[0] for p in found] == [
        "environments.dev.serving.endpoint.instance_type",
        "environments.qa.serving.registry",
        "environments.prod.serving.registry",  # keeps its data, dev does not
        "environments.prod.serving.registry",  # another region
    ]


def test_an_environment_that_keeps_its_data_serves_from_a_registry_that_does_too(tmp_path: Path) -> None:
    """prod's endpoint relaunches instances from the registry's model data: a throw-away registry would take it."""
    text = serving("qa", SERVERLESS)
    text = text.replace("    region: us-east-1\n", "    region: eu-west-1\n")
    (problem,) = problems(tmp_path, serving("prod", "      registry: qa\n" + SERVERLESS, text))
    assert problem.startswith("environments.prod.serving.registry: 'prod' keeps its data (retain_data: true) but ")
    assert "Set environments.qa.retain_data: true" in problem
    kept = text.replace("    region: eu-west-1\n    retain_data: false\n  prod:", "    region: eu-west-1\n  prod:")
    assert kept != text
    assert load(tmp_path, serving("prod", "      registry: qa\n" + SERVERLESS, kept)).registry_of("prod") == "qa"


@pytest.mark.parametrize(
    ("traffic", "step", "shifts"), [("all_at_once", 10, 1), ("canary", 10, 2), ("linear", 10, 10), ("linear", 30, 4)]
)
def test_the_deployment_timeout_covers_every_wait(traffic: str, step: int, shifts: int) -> None:
    deployment = Deployment(traffic=traffic, step_percent=step, wait_minutes=7, bake_minutes=9)  # type: ignore[arg-type]
    assert deployment.shifts == shifts
    waits = shifts * 7 * 60 + 9 * 60
    assert waits < deployment.timeout_seconds <= MAX_DEPLOYMENT_SECONDS
    assert deployment.timeout_seconds >= 600  # SageMaker's minimum


def test_the_shipped_config_serves_from_dev() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.served_from("dev") == ["dev", "staging", "prod"]
    for name in ("dev", "staging"):
        settings = config.environments[name].serving
        assert settings is not None, name
        assert isinstance(settings.endpoint, ServerlessEndpoint), name
    prod = config.environments["prod"].serving
    assert prod is not None
    assert prod.require_approval
    endpoint = prod.endpoint
    assert isinstance(endpoint, InstanceEndpoint)
    assert endpoint.data_capture is not None
    assert endpoint.autoscaling is not None
    assert endpoint.deployment.traffic == "canary"


# ---- batch scoring -------------------------------------------------------------------------------------------------
BATCH = "      batch:\n        schedule: 'cron(0 2 * * ? *)'\n        input_prefix: batch/input/\n" \
        "        output_prefix: batch/output/\n"  # fmt: skip


def test_batch_scoring_is_optional_and_defaults_to_one_small_instance(tmp_path: Path) -> None:
    config = load(tmp_path, serving("dev", SERVERLESS + BATCH))
    dev = config.environments["dev"].serving
    assert dev is not None
    assert dev.batch is not None
    assert (dev.batch.schedule, dev.batch.input_prefix, dev.batch.output_prefix) == (
        "cron(0 2 * * ? *)", "batch/input/", "batch/output/",
    )  # fmt: skip
    assert (dev.batch.instance_type, dev.batch.instance_count, dev.batch.id_column) == ("ml.m5.large", 1, "id")
    plain = load(tmp_path, serving("dev", SERVERLESS)).environments["dev"].serving
    assert plain is not None
    assert plain.batch is None


@pytest.mark.parametrize("schedule", ["rate(1 day)", "rate(6 hours)", "rate(30 minutes)", "cron(15 3 ? * MON-FRI *)"])
def test_eventbridge_schedule_expressions_are_accepted(tmp_path: Path, schedule: str) -> None:
    text = serving("dev", SERVERLESS + BATCH.replace("cron(0 2 * * ? *)", schedule))
    settings = load(tmp_path, text).environments["dev"].serving
    assert settings is not None
    assert settings.batch is not None
    assert settings.batch.schedule == schedule


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("'cron(0 2 * * ? *)'", "'0 2 * * *'", "schedule '0 2 * * *' is not an EventBridge schedule expression"),
        ("'cron(0 2 * * ? *)'", "'rate(1 days)'", "schedule 'rate(1 days)' is not an EventBridge schedule"),
        ("'cron(0 2 * * ? *)'", "'rate(0 hours)'", "use rate(<n> <unit>)"),
        ("'cron(0 2 * * ? *)'", "'cron(0 2 * * ?)'", "cron(<minutes> <hours> <day-of-month> <month>"),
        (
            "input_prefix: batch/input/",
            "input_prefix: batch/input",
            "input_prefix 'batch/input' must be an S3 key prefix ending with '/'",
        ),
        ("input_prefix: batch/input/", "input_prefix: /batch/input/", "no leading '/'"),
        ("output_prefix: batch/output/", "output_prefix: batch//output/", "no empty segment"),
        (
            "output_prefix: batch/output/",
            "output_prefix: batch/input/scored/",
            "overlap: the next run would score its own predictions",
        ),
        ("output_prefix: batch/output/", "output_prefix: batch/", "overlap"),
    ],
)
def test_bad_batch_settings_are_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in BATCH
    (problem,) = problems(tmp_path, serving("dev", SERVERLESS + BATCH.replace(old, new)))
    assert problem.startswith("environments.dev.serving.batch"), problem
    assert expected in problem, problem


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("        instance_count: 0\n", "instance_count"),
        ("        instance_type: c5.xlarge\n", "instance_type"),
        ("        bucket: other\n", "bucket"),
        ("        id_column: ''\n", "id_column"),
    ],
)
def test_bad_batch_values_name_their_key(tmp_path: Path, extra: str, key: str) -> None:
    (problem,) = problems(tmp_path, serving("dev", SERVERLESS + BATCH + extra))
    assert problem.startswith(f"environments.dev.serving.batch.{key}"), problem


def test_batch_needs_a_schedule_and_both_prefixes(tmp_path: Path) -> None:
    found = problems(tmp_path, serving("dev", SERVERLESS + "      batch: {id_column: id}\n"))
    assert sorted(p.split(":")[0] for p in found) == [
        "environments.dev.serving.batch.input_prefix",
        "environments.dev.serving.batch.output_prefix",
        "environments.dev.serving.batch.schedule",
    ]


def test_the_batch_instance_type_must_be_one_the_packages_support(tmp_path: Path) -> None:
    """The packages list their transform instance types: a batch job on another type would be refused."""
    batch = (
        "      batch:\n        schedule: rate(1 day)\n        input_prefix: batch/in/\n"
        "        output_prefix: batch/out/\n        instance_type: ml.c5.xlarge\n"
    )
    (problem,) = problems(tmp_path, serving("dev", SERVERLESS + batch))
    assert problem.startswith("environments.dev.serving.batch.instance_type: 'ml.c5.xlarge' is not among")
