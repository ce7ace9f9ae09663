"""Base of every config model, and the value types several models share (account ids, AWS regions)."""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated

import botocore
import botocore.session
from pydantic import AfterValidator, BaseModel, ConfigDict

ACCOUNT_RE = re.compile(r"^\d{12}$")


class StrictModel(BaseModel):
    """Unknown keys are errors, values are never coerced, and loaded config cannot be changed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_account(value: str) -> str:
    if not ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"must be 12 digits, got {value!r}")
    return value


@functools.cache
def _botocore_partitions() -> tuple[dict[str, str], tuple[tuple[re.Pattern[str], str], ...]]:
    """Every region botocore knows -> its partition, and each partition's region pattern.

    From botocore's own data files (``endpoints`` and ``partitions``, shipped with the package): offline, and the same
    list the SDKs use to build endpoints. A region code that is not in them would only fail later, deep inside the
    SageMaker SDK or at deploy time; the pseudo-regions ``aws-global`` etc. are not regions a stack can deploy to.
    """
    session = botocore.session.get_session()
    regions: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for partition in session.get_data("endpoints")["partitions"]:
        regions.update(dict.fromkeys(partition["regions"], partition["partition"]))
        patterns.append((re.compile(partition["regionRegex"]), partition["partition"]))
    for partition in session.get_data("partitions")["partitions"]:
        for region in partition["regions"]:
            if not region.endswith("-global"):
                regions.setdefault(region, partition["id"])
    return regions, tuple(patterns)


def known_regions() -> list[str]:
    """The AWS region codes botocore knows, sorted."""
    return sorted(_botocore_partitions()[0])


def _check_region(value: str) -> str:
    regions, patterns = _botocore_partitions()
    if value in regions:
        return value
    problem = f"must be an AWS region code such as 'eu-west-1', got {value!r}"
    typed = value.strip().lower()
    commercial = sorted(region for region, partition in regions.items() if partition == "aws")
    guess = (
        [typed]
        if typed in regions
        else difflib.get_close_matches(typed, commercial, n=1, cutoff=0.75)
        or difflib.get_close_matches(typed, known_regions(), n=1, cutoff=0.75)
    )
    known = f"not a region botocore {botocore.__version__} knows"
    newer = "if it is a region newer than that, upgrade boto3/botocore (requirements.in, then `make lock`)"
    plausible = any(pattern.fullmatch(value) for pattern, _ in patterns)
    if guess:
        raise ValueError(f"{problem}: {known} (did you mean {guess[0]!r}?{' ' + newer if plausible else ''})")
    if plausible:
        raise ValueError(f"{problem}: {known}; {newer}")
    raise ValueError(f"{problem}; the regions botocore knows: {', '.join(known_regions())}")


def partition_of(region: str) -> str:
    """The AWS partition of a region code (ARNs, service principals and cross-account trust never cross it), as
    botocore's endpoint data says; a region it does not list falls in the partition whose pattern matches it."""
    regions, patterns = _botocore_partitions()
    if region in regions:
        return regions[region]
    return next((partition for pattern, partition in patterns if pattern.fullmatch(region)), "aws")


AccountId = Annotated[str, AfterValidator(_check_account)]
Region = Annotated[str, AfterValidator(_check_region)]
