"""The resolver and the policy evaluator the deploy-invariant rules stand on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.account import Cloud
from tests.deploy.cfn import ResolveError, Stack
from tests.deploy.policy import CannotJudgeError, Principal, arn_match, glob_match, parse_policy

ACCOUNT = "123456789012"


def stacks(*templates: dict[str, Any], region: str = "eu-west-1") -> list[Stack]:
    return [Stack(f"test/t{i}", f"t{i}", ACCOUNT, region, t) for i, t in enumerate(templates)]


def test_intrinsics_resolve_to_the_text_cloudformation_would_produce() -> None:
    exporter = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
                              "Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
                "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "key"}}}}  # fmt: skip
    importer: dict[str, Any] = {"Conditions": {"China": {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}},
                                "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}}}}  # fmt: skip
    (first, second) = stacks(exporter, importer, region="cn-north-1")
    resolver = Cloud([first, second]).resolver
    key_arn = f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/${{Ref:t0/Key}}"
    assert resolver.resolve(second, {"Fn::ImportValue": "key"}) == key_arn
    assert resolver.resolve(second, {"Fn::GetStackOutput": {"StackName": "t0", "Region": "cn-north-1",
                                                            "OutputName": "Arn"}}) == key_arn  # fmt: skip
    assert resolver.resolve(second, {"Fn::ImportValue": "elsewhere"}) == "${Import:elsewhere}"
    assert resolver.resolve(first, {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}"}) == (
        "arn:aws-cn:s3:::b/${Literal}"
    )
    assert resolver.resolve(second, {"Fn::If": ["China", "yes", {"Ref": "AWS::NoValue"}]}) == "yes"
    assert resolver.resolve(second, {"Fn::GetAtt": ["Logs", "Arn"]}) == (
        f"arn:aws-cn:logs:cn-north-1:{ACCOUNT}:log-group:${{Name:t1/Logs}}:*"
    )
    assert resolver.resolve(first, {"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}) == "b"
    assert resolver.resolve(first, ["x", {"Ref": "AWS::NoValue"}]) == ["x"]
    with pytest.raises(ResolveError, match="Fn::Cidr is not supported"):
        resolver.resolve(first, {"Fn::Cidr": ["10.0.0.0/16", 2, 8]})


def test_wildcards() -> None:
    assert glob_match("s3:Get*", "s3:GetObject")
    assert not glob_match("s3:Get?", "s3:GetObject")
    assert arn_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b/c")
    assert not arn_match("arn:aws:logs:*:1:log-group:*", "arn:aws:logs:eu-west-1:2:log-group:x")
    assert arn_match("arn:aws:logs:eu-west-1:1:log-group:*", "arn:aws:logs:eu-west-1:1:log-group:${Name:s/L}")


def evaluate(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str] | None = None,
             *, key_policy: list[dict[str, Any]] | None = None) -> bool:  # fmt: skip
    """Decision for role ``r`` whose identity policy holds ``statements``; ``key_policy``: the policy of key ``Key``."""
    resources: dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": ["r"], "PolicyDocument": {"Statement": statements}}},
    }  # fmt: skip
    if key_policy is not None:
        resources["Key"] = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": key_policy}}}
    cloud = Cloud(stacks({"Resources": resources}))
    target = next(cloud.resources("AWS::KMS::Key"), None)
    principal = Principal("role", f"arn:aws:iam::{ACCOUNT}:role/r", ACCOUNT)
    return cloud.evaluate(principal, action, resource, context, resource=target).allowed


ALLOW_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def test_explicit_deny_wins_and_not_action_and_not_resource_invert() -> None:
    deny = {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::b/*"}
    assert evaluate([ALLOW_ALL, deny], "s3:GetObject", "arn:aws:s3:::b/k")
    assert not evaluate([ALLOW_ALL, deny], "s3:DeleteObject", "arn:aws:s3:::b/k")
    assert not evaluate([{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}], "s3:GetObject", "arn:aws:s3:::b")
    assert evaluate([{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::x/*"}], "s3:GetObject",
                    "arn:aws:s3:::b/k")  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"s3:prefix": "a/"}}, {"s3:prefix": "a/"}, True),
        ({"StringEquals": {"s3:prefix": "a/"}}, {"s3:prefix": "b/"}, False),
        ({"StringLike": {"s3:prefix": ["x", "a/*"]}}, {"s3:prefix": "a/b"}, True),
        ({"StringNotLike": {"s3:prefix": "a/*"}}, {"s3:prefix": "a/b"}, False),
        ({"StringEqualsIfExists": {"s3:prefix": "a/"}}, {}, True),
        ({"StringEquals": {"s3:prefix": "a/"}}, {}, False),
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {}, True),  # every request here is made over TLS
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:1:rule/*"}},
            {"aws:SourceArn": "arn:aws:events:r:1:rule/x"},
            True,
        ),
        ({"NumericLessThan": {"s3:TlsVersion": 1.2}}, {"s3:TlsVersion": "1.3"}, False),
        ({"StringEqualsIgnoreCase": {"S3:Prefix": "A/"}}, {"s3:prefix": "a/"}, True),
    ],
)
def test_condition_operators(condition: dict[str, Any], context: dict[str, str], allowed: bool) -> None:
    statement = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": condition}
    assert evaluate([statement], "s3:ListBucket", "arn:aws:s3:::b", context) is allowed


@pytest.mark.parametrize("operator", ["ForAnyValue:StringLike", "DateGreaterThan", "IpAddress", "StringMatches"])
def test_an_unsupported_operator_cannot_be_judged(operator: str) -> None:
    statement = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": {operator: {"k": "v"}}}
    with pytest.raises(CannotJudgeError, match=f"evaluator cannot judge condition {operator} on k"):
        evaluate([statement], "s3:ListBucket", "arn:aws:s3:::b")
    # a statement that does not apply to the request does not need judging
    assert not evaluate([statement], "s3:GetObject", "arn:aws:s3:::b/k")


def test_policy_variables_and_not_principal_cannot_be_judged() -> None:
    variable = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}
    with pytest.raises(CannotJudgeError, match="policy variable"):
        evaluate([variable], "s3:GetObject", "arn:aws:s3:::b/u/k")
    with pytest.raises(CannotJudgeError, match="NotPrincipal"):
        parse_policy({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": "*"}]}, "t",
                     resource_policy=True)  # fmt: skip


ROOT = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}


def test_kms_needs_the_key_policy_to_name_the_principal_or_delegate_to_iam() -> None:
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/${{Ref:t0/Key}}"
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}
    assert evaluate([decrypt], "kms:Decrypt", key_arn, key_policy=[ROOT])
    assert not evaluate([], "kms:Decrypt", key_arn, key_policy=[ROOT])  # delegated to IAM, which does not allow
    direct = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/r"}, "Action": "kms:Decrypt",
              "Resource": "*"}  # fmt: skip
    assert evaluate([], "kms:Decrypt", key_arn, key_policy=[direct])
    # an identity policy is not enough when the key policy does not delegate to IAM
    assert not evaluate([decrypt], "kms:Decrypt", key_arn, key_policy=[])
    # a key outside the templates: its policy is unknown
    with pytest.raises(CannotJudgeError, match="not in the synthesized templates"):
        evaluate([decrypt], "kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/other")
