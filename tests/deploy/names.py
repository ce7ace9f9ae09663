"""Rule: no two resources of the app claim the same physical name where AWS requires it to be unique.

A named resource (a bucket, role, alarm, rule, pipeline, ...) is created under its ARN; a second resource of any stack
deployed to the same account and region (or, for S3 and IAM, the partition or the account) with the same name fails
at deploy time ("already exists"), however cleanly each template synthesizes. So the rule compares the ARNs of every
named resource across all templates.
"""

from __future__ import annotations

from collections import defaultdict

from tests.deploy.account import Cloud
from tests.deploy.cfn import NAME_PROPERTY, Resource


def physical_names_are_unique(cloud: Cloud) -> list[str]:
    claimed: dict[str, list[Resource]] = defaultdict(list)
    for res in cloud.resources(*NAME_PROPERTY):
        if NAME_PROPERTY[res.type] in res.properties:  # otherwise CloudFormation generates a unique name
            claimed[cloud.arn(res)].append(res)
    return [
        f"{arn} is claimed by {len(owners)} resources: {', '.join(o.label for o in owners)}"
        for arn, owners in sorted(claimed.items())
        if len(owners) > 1
    ]
