"""A small IAM policy-statement evaluator: just enough of the IAM evaluation logic to answer "may this principal do
this action on this resource in this request context" from resolved policy documents.

Implemented: Action/NotAction, Resource/NotResource, Principal (``*``, ``AWS`` role ARNs and account roots,
``Service``), the ``*`` and ``?`` wildcards (ARNs matched per colon-separated segment, actions case-insensitively)
and these condition operators, each with an ``IfExists`` form: String(Not)Equals(IgnoreCase), String(Not)Like,
Arn(Not)Equals, Arn(Not)Like, Bool, Null and the Numeric family. Anything else - ForAnyValue/ForAllValues, Date or
IpAddress operators, NotPrincipal, IAM policy variables such as ``${aws:username}`` - raises :class:`CannotJudgeError`
when it could decide the answer: a rule reports that instead of passing silently.

Request values may hold placeholders of values only known at deployment (see :mod:`tests.deploy.cfn`): a policy
matches them only through a wildcard or the identical placeholder, as it would match the real value.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

POLICY_VARIABLE = re.compile(r"\$\{[a-z][a-z0-9-]*:[^}]*\}")
STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
                    "StringLike", "StringNotLike"}  # fmt: skip
ARN_OPERATORS = {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": lambda a, b: a == b, "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b, "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b, "NumericGreaterThanEquals": lambda a, b: a >= b,
}  # fmt: skip
Context = Mapping[str, str | Sequence[str]]


class CannotJudgeError(Exception):
    """The evaluator does not implement something a decision depends on."""


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """IAM's ARN matching: each of the six colon-separated parts is matched separately (the resource part keeps
    its own colons)."""
    if pattern == "*":
        return True
    parts, values = pattern.split(":", 5), value.split(":", 5)
    if len(parts) != 6 or len(values) != 6:
        return glob_match(pattern, value)
    return all(glob_match(p, v) for p, v in zip(parts, values, strict=True))


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)


@dataclass(frozen=True)
class Principal:
    """Who makes the request. ``arn`` is the role ARN, the account root ARN, or the service principal name."""

    kind: Literal["role", "account", "service"]
    arn: str
    account: str | None = None

    def __str__(self) -> str:
        return self.arn


@dataclass(frozen=True)
class Statement:
    origin: str  # names the policy and the statement in violation messages
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principals: Mapping[str, tuple[str, ...]] | None = None  # None: an identity policy
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def matches_action(self, action: str) -> bool:
        if self.actions is not None:
            return any(glob_match(a, action, ignore_case=True) for a in self.actions)
        assert self.not_actions is not None
        return not any(glob_match(a, action, ignore_case=True) for a in self.not_actions)

    def matches_resource(self, arn: str) -> bool:
        patterns = self.resources if self.resources is not None else self.not_resources
        if patterns is None:  # resource policies may omit Resource: the resource they are attached to
            return True
        for pattern in patterns:
            if POLICY_VARIABLE.search(pattern):
                raise CannotJudgeError(
                    f"evaluator cannot judge the policy variable in resource {pattern} of {self.origin}"
                )
        hit = any(arn_match(p, arn) for p in patterns)
        return hit if self.resources is not None else not hit

    def principal_match(self, principal: Principal) -> Literal["direct", "account"] | None:
        """``direct``: the statement names this principal (or everyone); ``account``: it names the principal's
        account root, which delegates to the account's identity policies."""
        assert self.principals is not None
        if "*" in self.principals.get("*", ()) or "*" in self.principals.get("AWS", ()):
            return "direct"
        if principal.kind == "service":
            return "direct" if principal.arn in self.principals.get("Service", ()) else None
        found: Literal["direct", "account"] | None = None
        for value in self.principals.get("AWS", ()):
            if value == principal.arn:
                return "direct"
            if principal.account and (value == principal.account or re.fullmatch(
                    rf"arn:[a-z-]+:iam::{principal.account}:root", value)):  # fmt: skip
                found = "account"
        return found

    def conditions_hold(self, context: Context) -> bool:
        return all(
            _condition(operator, key, expected, context, self.origin)
            for operator, block in self.conditions.items()
            for key, expected in block.items()
        )

    def condition_keys(self) -> set[str]:
        return {key.lower() for block in self.conditions.values() for key in block}


def parse_policy(document: Mapping[str, Any], origin: str, *, resource_policy: bool) -> list[Statement]:
    """Statements of a resolved policy document. ``origin`` names the document (stack, resource, property)."""
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    parsed = []
    for number, raw in enumerate(statements, 1):
        where = f"{origin} statement {raw.get('Sid') or f'#{number}'}"
        if "NotPrincipal" in raw:
            raise CannotJudgeError(f"evaluator cannot judge NotPrincipal in {where}")
        principals = None
        if resource_policy:
            principal = raw.get("Principal", {})
            principals = {"*": ("*",)} if principal == "*" else {k: _strings(v) for k, v in principal.items()}
        parsed.append(Statement(
            origin=where, effect=raw["Effect"], principals=principals,
            actions=_strings(raw["Action"]) if "Action" in raw else None,
            not_actions=_strings(raw["NotAction"]) if "NotAction" in raw else None,
            resources=_strings(raw["Resource"]) if "Resource" in raw else None,
            not_resources=_strings(raw["NotResource"]) if "NotResource" in raw else None,
            conditions={op: {k: _strings(v) for k, v in b.items()} for op, b in raw.get("Condition", {}).items()},
        ))  # fmt: skip
    return parsed


def _lookup(context: Context, key: str) -> tuple[str, ...] | None:
    for name, value in context.items():
        if name.lower() == key.lower():  # condition keys are case-insensitive
            return (value,) if isinstance(value, str) else tuple(value)
    return None


def _condition(operator: str, key: str, expected: tuple[str, ...], context: Context, origin: str) -> bool:
    base = operator.removesuffix("IfExists")
    cannot = CannotJudgeError(f"evaluator cannot judge condition {operator} on {key} in {origin}")
    supported = STRING_OPERATORS | ARN_OPERATORS | set(NUMERIC_OPERATORS) | {"Bool", "Null"}
    if ":" in operator or base not in supported:
        raise cannot
    if any(POLICY_VARIABLE.search(value) for value in expected):
        raise cannot
    actual = _lookup(context, key)
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        return operator.endswith("IfExists") or "Not" in base
    negated = "Not" in base
    if base in STRING_OPERATORS:
        ignore_case = base.endswith("IgnoreCase")
        like = base.endswith("Like")

        def one(pattern: str, value: str) -> bool:
            if like:
                return glob_match(pattern, value)
            return pattern.lower() == value.lower() if ignore_case else pattern == value

    elif base in ARN_OPERATORS:
        one = arn_match
    elif base == "Bool":

        def one(pattern: str, value: str) -> bool:
            return pattern.lower() == value.lower()

    else:
        not_equals = base == "NumericNotEquals"
        compare = NUMERIC_OPERATORS["NumericEquals" if not_equals else base]

        def one(pattern: str, value: str) -> bool:
            try:
                return bool(compare(float(value), float(pattern)))
            except ValueError:
                return False

        negated = not_equals
    hit = any(one(p, v) for p in expected for v in actual)
    return not hit if negated else hit


def describe(context: Context) -> str:
    return json.dumps(dict(context), sort_keys=True) if context else "{}"
