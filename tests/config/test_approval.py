"""An environment that keeps its data (retain_data: true, the default) is deployed by the delivery pipeline only after
a manual approval, unless the config opts out explicitly with delivery.skip_approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import DEFAULT_CONFIG_PATH, ConfigError, load_config
from tests.config.test_loader import DELIVERY, VALID, write

NO_APPROVAL = DELIVERY.replace("  require_approval: [prod]\n", "")


def problems_of(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return path, info.value.problems


def unattended(name: str) -> str:
    return (
        f"delivery.require_approval: {name!r} keeps its data (environments.{name}.retain_data is true) but the "
        f"delivery pipeline would deploy it without a manual approval; add {name!r} to delivery.require_approval, or "
        "to delivery.skip_approval to deploy it unattended on purpose"
    )


def test_a_retained_environment_without_approval_is_refused(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, VALID + NO_APPROVAL)
    assert problems == [f"{path}: {unattended('prod')}"]


def test_retain_data_defaults_to_true_so_a_new_environment_needs_an_approval_too(tmp_path: Path) -> None:
    text = VALID.replace("  prod:\n", "  qa:\n    region: eu-west-1\n  prod:\n")
    path, problems = problems_of(tmp_path, text + DELIVERY.replace("[dev, prod]", "[dev, qa, prod]"))
    assert problems == [f"{path}: {unattended('qa')}"]


def test_skip_approval_is_the_explicit_opt_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + NO_APPROVAL + "  skip_approval: [prod]\n"))
    assert config.delivery is not None
    assert (config.delivery.require_approval, config.delivery.skip_approval) == ([], ["prod"])


def test_an_environment_the_pipeline_does_not_deploy_needs_no_approval(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + NO_APPROVAL.replace("[dev, prod]", "[dev]")))
    assert config.pipeline_stages == ["dev"]


def test_without_a_delivery_section_nothing_is_deployed_unattended(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, VALID)).delivery is None


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        pytest.param(
            DELIVERY + "  skip_approval: [prod]\n",
            "delivery.skip_approval[0]: 'prod' is also in delivery.require_approval; keep one",
            id="approved-and-skipped",
        ),
        pytest.param(
            DELIVERY + "  skip_approval: [dev]\n",
            "delivery.skip_approval[0]: 'dev' does not keep its data (retain_data: false), so it needs no opt-out; "
            "remove it (a stale opt-out would silently cover it if it kept data later)",
            id="stale-opt-out",
        ),
        pytest.param(
            NO_APPROVAL + "  skip_approval: [production]\n",
            "delivery.skip_approval[0]: unknown environment 'production' (known: dev, prod)",
            id="unknown-env",
        ),
        pytest.param(
            NO_APPROVAL.replace("[dev, prod]", "[prod]") + "  skip_approval: [prod, prod]\n",
            "delivery.skip_approval: lists ['prod'] more than once",
            id="listed-twice",
        ),
    ],
)
def test_bad_opt_outs_are_named(tmp_path: Path, delivery: str, expected: str) -> None:
    path, problems = problems_of(tmp_path, VALID + delivery)
    assert f"{path}: {expected}" in problems, problems


def test_an_opt_out_of_an_environment_not_deployed_is_named(tmp_path: Path) -> None:
    text = VALID + NO_APPROVAL.replace("[dev, prod]", "[dev]") + "  skip_approval: [prod]\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}: delivery.skip_approval[0]: 'prod' is not deployed by delivery.stages"]


def test_the_shipped_config_approves_every_stage_that_keeps_its_data() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.delivery is not None
    retained = [name for name in config.pipeline_stages if config.environments[name].retain_data]
    assert retained == ["dev", "prod"]  # dev is the registry prod serves from
    assert config.delivery.require_approval == ["prod"]
    assert config.delivery.skip_approval == ["dev"]  # deployed on every push, on purpose
