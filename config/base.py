"""Base of every config model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

ACCOUNT_RE = re.compile(r"^\d{12}$")
# Commercial, China, GovCloud and ISO partitions: <area>[-gov|-iso*]-<direction>-<n>
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
#: Region prefixes of the partitions other than ``aws`` (a test checks it against botocore's endpoints data).
PARTITION_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso"),
                      ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"), ("eusc-", "aws-eusc"))  # fmt: skip


class StrictModel(BaseModel):
    """Unknown keys are errors, values are never coerced, and loaded config cannot be changed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_account(value: str) -> str:
    if not ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"must be 12 digits, got {value!r}")
    return value


def _check_region(value: str) -> str:
    if not REGION_RE.fullmatch(value):
        raise ValueError(f"must be an AWS region code such as 'eu-west-1', got {value!r}")
    return value


def partition_of(region: str) -> str:
    """The AWS partition of a region code (ARNs, service principals and cross-account trust never cross it)."""
    for prefix, partition in PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


AccountId = Annotated[str, AfterValidator(_check_account)]
Region = Annotated[str, AfterValidator(_check_region)]
