"""Deploy-time invariants over every template of the synthesized app: what CloudFormation, IAM and KMS check in a
real account. The rules are general (by resource type), so stacks added later are covered; each rule is proven able
to fail in test_rules_catch.py."""

from __future__ import annotations

from tests.conftest import SynthesizedApp
from tests.deploy.account import Cloud
from tests.deploy.cfn import Stack
from tests.deploy.conftest import report, stacks_of
from tests.deploy.cross_account import grants_are_honoured_across_accounts
from tests.deploy.lifecycle import deletable, literal_partitions, strings
from tests.deploy.names import physical_names_are_unique
from tests.deploy.pipeline import inputs_are_listable
from tests.deploy.rules import keys_admit_services, readers_can_decrypt


def test_the_app_has_the_stacks_the_rules_are_about(app_stacks: list[Stack], cloud: Cloud) -> None:
    # guards against passing vacuously: the rules below must have something to look at
    assert len(app_stacks) >= 7
    for kind in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::Pipeline", "AWS::IAM::Role"):
        assert list(cloud.resources(kind)), kind


def test_every_template_resolves(app_stacks: list[Stack], cloud: Cloud) -> None:
    """Every intrinsic of every template is understood, so no rule skips a value it cannot read."""
    for stack in app_stacks:
        resolved = cloud.resolver.resolve(stack, {k: stack.template.get(k, {}) for k in ("Resources", "Outputs")})
        assert not [p for p, text in strings(resolved) if "${StackOutput:" in text or "${Import:" in text], stack.label


def test_kms_keys_admit_the_services_that_use_them(cloud: Cloud) -> None:
    violations = keys_admit_services(cloud)
    assert not violations, report(violations)


def test_readers_of_encrypted_data_can_decrypt_it(cloud: Cloud) -> None:
    violations = readers_can_decrypt(cloud)
    assert not violations, report(violations)


def test_sagemaker_s3_prefix_inputs_are_listable_by_the_job_role(cloud: Cloud) -> None:
    violations = inputs_are_listable(cloud)
    assert not violations, report(violations)


def test_literal_arns_name_the_partition_of_the_stack_region(app_stacks: list[Stack]) -> None:
    violations = literal_partitions(app_stacks)
    assert not violations, report(violations)


def test_resources_deleted_with_their_stack_can_be_deleted(cloud: Cloud) -> None:
    violations = deletable(cloud)
    assert not violations, report(violations)


def test_no_aws_partition_literal_in_another_partition(other_partition_app: SynthesizedApp) -> None:
    stacks = stacks_of(other_partition_app)
    assert {s.partition for s in stacks} == {"aws-us-gov"}
    literal = [f"{s.label} {path}: {text[:100]!r}" for s in stacks for path, text in strings(s.template)
               if "arn:aws:" in text]  # fmt: skip
    assert not literal, "strings with arn:aws: in a template for aws-us-gov:\n" + "\n".join(literal)


def test_grants_across_accounts_are_honoured_by_the_resource_policy(cloud: Cloud) -> None:
    violations = grants_are_honoured_across_accounts(cloud)
    assert not violations, report(violations)


def test_physical_names_are_unique_where_aws_requires_it(cloud: Cloud) -> None:
    violations = physical_names_are_unique(cloud)
    assert not violations, report(violations)
