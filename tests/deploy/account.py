"""The synthesized stacks seen as the accounts they deploy to: which policies apply to a principal or a resource,
and the decision IAM and KMS would take on a request.

Decision logic (same-account and cross-account, no SCPs, session policies or permissions boundaries - a role with a
boundary makes :meth:`Cloud.evaluate` raise :class:`CannotJudgeError`):

* an explicit Deny in any applicable statement wins;
* KMS keys: the key policy must allow the principal itself, or allow the principal's account root (which delegates
  to IAM) while an identity policy of the principal allows the request too;
* other resources: in the same account an identity policy or a resource policy naming the principal suffices;
  across accounts both are needed; service principals have no identity policies.

Identity policies of a role: its inline ``Policies``, every ``AWS::IAM::Policy`` / ``AWS::IAM::RolePolicy`` /
``AWS::IAM::ManagedPolicy`` of any template attached to it by name, and managed policies of the templates listed in
``ManagedPolicyArns``. Managed policy ARNs not defined in the templates (AWS managed ones included) are unknown: they
allow nothing here, and a denial mentions them so that a reader sees when a role relies on one.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.deploy.cfn import Resolver, Resource, Stack, resources
from tests.deploy.policy import CannotJudgeError, Context, Principal, Statement, describe, parse_policy

RESOURCE_POLICIES = {  # policy type -> (property naming the resources, property holding the document)
    "AWS::S3::BucketPolicy": ("Bucket", "PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("Queues", "PolicyDocument"),
    "AWS::SNS::TopicPolicy": ("Topics", "PolicyDocument"),
}
#: Resources that hold their resource policy in a property of their own (a role's trust policy is its resource policy
#: for sts:AssumeRole).
OWN_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupPolicy",
    "AWS::IAM::Role": "AssumeRolePolicyDocument",
}
FOREIGN_ACCOUNT = "999999999999"  # stands for "someone else's account" in confused-deputy checks


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class Cloud:
    def __init__(self, stacks: Sequence[Stack]) -> None:
        self.stacks = list(stacks)
        self.resolver = Resolver(self.stacks)

    def resources(self, *types: str) -> Iterator[Resource]:
        return resources(self.stacks, *types)

    def prop(self, res: Resource, name: str) -> Any:
        """A property of ``res``, resolved; None when absent."""
        return self.resolver.resolve(res.stack, res.properties[name]) if name in res.properties else None

    def string(self, res: Resource, value: Any) -> str:
        return self.resolver.string(res.stack, value)

    def arn(self, res: Resource) -> str:
        return self.resolver.arn(res)

    def name(self, res: Resource) -> str:
        return self.resolver.name(res)

    def ref(self, res: Resource) -> str:
        return self.resolver.string(res.stack, {"Ref": res.logical_id})

    @functools.cache  # noqa: B019 - a Cloud lives as long as its templates
    def identities(self, res: Resource) -> frozenset[str]:
        """Every string that designates ``res``: its Ref, ARN and name (key aliases for keys)."""
        found = {self.ref(res), self.arn(res), self.name(res), self.arn(res).removesuffix(":*")}
        if res.type == "AWS::KMS::Key":
            for alias in self.resources("AWS::KMS::Alias"):
                if self.string(alias, alias.properties["TargetKeyId"]) in found:
                    name, s = self.name(alias), alias.stack
                    found |= {name, f"arn:{s.partition}:kms:{s.region}:{s.account}:{name}"}
        return frozenset(found)

    def find(self, value: str, *types: str) -> Resource | None:
        return next((res for res in self.resources(*types) if value in self.identities(res)), None)

    def role_principal(self, role: Resource) -> Principal:
        return Principal("role", self.arn(role), role.stack.account)

    @functools.cache  # noqa: B019
    def identity_policies(self, role: Resource) -> tuple[tuple[Statement, ...], tuple[str, ...]]:
        """(statements, managed policy ARNs this evaluator cannot read) of a role."""
        if "PermissionsBoundary" in role.properties:
            raise CannotJudgeError(f"evaluator cannot judge the permissions boundary of {role.label}")
        statements: list[Statement] = []
        for policy in role.properties.get("Policies", []):
            document = self.resolver.resolve(role.stack, policy["PolicyDocument"])
            statements += parse_policy(document, f"{role.label} inline policy", resource_policy=False)
        role_name = self.name(role)
        attached = set()
        for policy in self.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            names = self.prop(policy, "Roles") or [self.prop(policy, "RoleName")]
            if role_name in names:
                attached.add(policy)
        unknown = []
        for arn in self.prop(role, "ManagedPolicyArns") or []:
            managed = self.find(arn, "AWS::IAM::ManagedPolicy")
            if managed is None:
                unknown.append(arn)
            else:
                attached.add(managed)
        for policy in sorted(attached, key=lambda p: (p.stack.label, p.logical_id)):
            document = self.prop(policy, "PolicyDocument")
            statements += parse_policy(document, policy.label, resource_policy=False)
        return tuple(statements), tuple(unknown)

    @functools.cache  # noqa: B019
    def resource_policy(self, res: Resource) -> tuple[Statement, ...]:
        if res.type in OWN_POLICIES:
            document = self.prop(res, OWN_POLICIES[res.type]) or {}
            return tuple(parse_policy(document, f"{OWN_POLICIES[res.type]} of {res.label}", resource_policy=True))
        statements: list[Statement] = []
        for policy_type, (target, document) in RESOURCE_POLICIES.items():
            for policy in self.resources(policy_type):
                targets = self.prop(policy, target)
                targets = targets if isinstance(targets, list) else [targets]
                if any(t in self.identities(res) for t in targets):
                    statements += parse_policy(self.prop(policy, document), policy.label, resource_policy=True)
        return tuple(statements)

    def evaluate(  # noqa: PLR0912
        self, principal: Principal, action: str, arn: str, context: Context | None = None,
        *, resource: Resource | None = None,
    ) -> Decision:  # fmt: skip
        """Would ``principal`` be allowed ``action`` on ``arn`` with these request ``context`` keys? ``resource``
        is the template resource that holds the resource policy (None: not in the templates, no policy known)."""
        request = f"{principal} {action} on {arn} with context {describe(context or {})}"
        context = {"aws:SecureTransport": "true", **({"aws:PrincipalArn": principal.arn} if principal.kind == "role"
                                                     else {}), **(context or {})}  # fmt: skip
        identity: tuple[Statement, ...] = ()
        unknown: tuple[str, ...] = ()
        if principal.kind == "role":
            role = self.find(principal.arn, "AWS::IAM::Role")
            if role is not None:
                identity, unknown = self.identity_policies(role)
        policy = self.resource_policy(resource) if resource is not None else ()
        is_key = (resource is not None and resource.type == "AWS::KMS::Key") or arn.split(":")[2:3] == ["kms"]
        if is_key and resource is None:
            raise CannotJudgeError(f"evaluator cannot judge {request}: the key is not in the synthesized templates")
        identity_allows, direct, via_account = False, False, False
        for statement in (*identity, *policy):
            if not (statement.matches_action(action) and statement.matches_resource(arn)):
                continue
            match = "direct" if statement.principals is None else statement.principal_match(principal)
            if match is None or not statement.conditions_hold(context):
                continue
            if statement.effect == "Deny":
                return Decision(False, f"{request}: explicitly denied by {statement.origin}")
            if statement.principals is None:
                identity_allows = True
            elif match == "direct":
                direct = True
            else:
                via_account = True
        owner = resource.stack.account if resource is not None else (arn.split(":")[4:5] or [""])[0]
        same_account = principal.kind != "role" or owner in {"", principal.account}
        if is_key:
            allowed = direct or (via_account and identity_allows)
        elif same_account:
            allowed = identity_allows or direct
        else:
            allowed = identity_allows and (direct or via_account)
        if allowed:
            return Decision(True, f"{request}: allowed")
        return Decision(
            False,
            self._why_not(
                request, principal, is_key=is_key, identity=identity_allows, via_account=via_account, unknown=unknown
            ),
        )

    @staticmethod
    def _why_not(
        request: str, principal: Principal, *, is_key: bool, identity: bool, via_account: bool, unknown: Sequence[str]
    ) -> str:
        if principal.kind == "service":
            why = "no statement of the resource policy allows it"
        elif is_key and via_account:
            why = "the key policy delegates to IAM (account root) but no identity policy of the role allows it"
        elif is_key:
            why = "the key policy neither names the role nor the account root" + (
                " (an identity policy allows it, which KMS ignores without the key policy)" if identity else ""
            )
        else:
            why = "no identity policy of the role and no resource policy allows it"
        if unknown:
            why += f"; the role also has managed policies this check cannot read: {', '.join(unknown)}"
        return f"{request}: denied, {why}"


def confused_deputy_context(context: Mapping[str, str], keys: Collection[str]) -> dict[str, str]:
    """The same request made on behalf of another account: the account id in each of ``keys`` (aws:SourceAccount
    itself, the account field of ARN values such as aws:SourceArn) replaced. A statement admitting a service
    principal must deny it, or any customer of that service could use the resource (the confused-deputy problem)."""
    foreign = dict(context)
    for key in keys:
        value = context[key]
        parts = value.split(":", 5)
        if key.lower() == "aws:sourceaccount":
            foreign[key] = FOREIGN_ACCOUNT
        elif len(parts) == 6 and parts[0] == "arn" and parts[4]:
            foreign[key] = ":".join([*parts[:4], FOREIGN_ACCOUNT, parts[5]])
    return foreign
