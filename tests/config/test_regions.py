"""Regions are checked against botocore's endpoint data (offline): a typo is a config error with a suggestion, not a
53-line traceback from the SageMaker SDK when the definition is built."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from config.base import known_regions, partition_of
from config.loader import ConfigError, load_config
from tests.config.test_loader import DELIVERY, VALID, write


def botocore_regions() -> dict[str, str]:
    data = botocore.session.get_session().get_data("endpoints")
    return {region: partition["partition"] for partition in data["partitions"] for region in partition["regions"]}


def region_problems(tmp_path: Path, region: str) -> list[str]:
    path = write(tmp_path, VALID.replace("us-east-1", region))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("eu-wset-1", "eu-west-1"),  # transposed letters: what the traceback came from
        ("us-east-7", "us-east-2"),
        ("EU-WEST-1", "eu-west-1"),
        (" eu-west-1", "eu-west-1"),
        ("europe-west1", "eu-west-1"),
        ("us-gov-wset-1", "us-gov-west-1"),
    ],
)
def test_a_region_typo_names_the_key_and_suggests_the_region(tmp_path: Path, typed: str, meant: str) -> None:
    (problem,) = region_problems(tmp_path, f"'{typed}'")
    path = tmp_path / "env.yaml"
    assert problem.startswith(
        f"{path}: environments.prod.region: must be an AWS region code such as 'eu-west-1', got {typed!r}: not a "
        f"region botocore {botocore.__version__} knows (did you mean {meant!r}?"
    ), problem


def test_a_plausible_but_unknown_region_says_to_upgrade_botocore(tmp_path: Path) -> None:
    (problem,) = region_problems(tmp_path, "ap-southeast-99")
    assert "if it is a region newer than that, upgrade boto3/botocore (requirements.in, then `make lock`)" in problem


def test_a_region_nothing_like_one_lists_the_known_regions(tmp_path: Path) -> None:
    (problem,) = region_problems(tmp_path, "mars")
    assert problem.endswith(f"got 'mars'; the regions botocore knows: {', '.join(known_regions())}")
    assert "eu-west-1" in known_regions()
    assert not [region for region in known_regions() if region.endswith("-global")]  # pseudo-regions are not places


def test_the_delivery_region_is_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + DELIVERY.replace("region: eu-west-1", "region: eu-west-9"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: delivery.region: must be an AWS region code such as 'eu-west-1', got")


def test_every_region_botocore_knows_is_accepted_in_its_own_partition(tmp_path: Path) -> None:
    regions = botocore_regions()
    assert len(regions) > 30
    assert set(regions) <= set(known_regions())
    for region, partition in regions.items():
        text = VALID.replace("eu-west-1", region).replace("us-east-1", region)
        assert load_config(write(tmp_path, text)).partition == partition == partition_of(region), region


def test_partition_of_a_region_botocore_does_not_list_follows_the_partition_patterns() -> None:
    assert partition_of("cn-south-9") == "aws-cn"
    assert partition_of("us-gov-central-7") == "aws-us-gov"
    assert partition_of("us-isob-south-3") == "aws-iso-b"
    assert partition_of("eu-central-9") == "aws"
