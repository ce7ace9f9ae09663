"""Encryption rules: every KMS key admits the services that use it, and every reader of encrypted data can decrypt.

Each rule takes a :class:`~tests.deploy.account.Cloud` (all synthesized stacks) and returns violations, one string
each, naming the stack, the resource logical id and what is missing. The rules look at resource types, never at
particular stacks, so stacks added later are covered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial

from tests.deploy.account import Cloud, confused_deputy_context
from tests.deploy.cfn import ResolveError, Resource, url_suffix
from tests.deploy.policy import CannotJudgeError, Principal, Statement, describe

#: What CloudWatch Logs does with a log group's key (the actions of the AWS documentation's key policy).
LOGS_KMS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")  # fmt: skip
#: What a service delivering into an encrypted SNS topic or SQS queue needs from the key.
DELIVERY_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
CODECOMMIT_READ = (
    "codecommit:GitPull", "codecommit:GetDifferences", "codecommit:GetBranch", "codecommit:GetCommit",
    "codecommit:GetBlob", "codecommit:GetFile", "codecommit:GetFolder", "codecommit:UploadArchive",
)  # fmt: skip
SOURCE_KEYS = ("aws:SourceAccount", "aws:SourceArn")
OBJECT = "${Object}"  # stands for any object key
#: AWS documents that the KMS request of an EventBridge delivery into an encrypted SNS topic or SQS queue carries no
#: aws:SourceAccount / aws:SourceArn (SNS "Key management": compatibility with AWS services). A source condition on
#: the key would drop every event, so the key request is modelled without them and no confused-deputy check applies;
#: instead such a key must serve EventBridge delivery targets only (``delivery_key_is_dedicated``).
EVENTBRIDGE = "events.amazonaws.com"
DELIVERY_TARGET_TYPES = frozenset({"AWS::SNS::Topic", "AWS::SQS::Queue"})
#: Properties through which a resource names the KMS key that encrypts it.
KEY_PROPERTIES = ("KmsKeyId", "KmsMasterKeyId", "KMSMasterKeyID", "EncryptionKey", "KmsKeyArn", "KMSKeyId")


def checked(label: str, check: Callable[[], list[str]]) -> list[str]:
    """Run one check; what the resolver or the evaluator cannot judge becomes a violation, never a pass."""
    try:
        return check()
    except (CannotJudgeError, ResolveError) as exc:
        return [f"{label}: {exc}"]


def aws_managed(key: str) -> bool:
    return key.startswith("alias/aws/") or ":alias/aws/" in key


def key_admits(
    cloud: Cloud, user: Resource, key_property: str, principal: Principal, *, actions: Sequence[str],
    context: Mapping[str, str], source_keys: Sequence[str], purpose: str,
) -> list[str]:  # fmt: skip
    """The key in ``user``'s ``key_property`` must allow ``principal`` every action in ``context``, and deny them
    when ``source_keys`` name another account (a source condition)."""
    key_id = cloud.string(user, user.properties[key_property])
    if aws_managed(key_id):
        return [f"{user.label}: {key_property} {key_id} is an AWS managed key: its policy cannot admit {principal} "
                f"{purpose}; use a customer managed key"]  # fmt: skip
    key = cloud.find(key_id, "AWS::KMS::Key")
    if key is None:
        return [f"{user.label}: {key_property} {key_id} is not a key of the synthesized templates: cannot check that "
                f"it admits {principal} {purpose}"]  # fmt: skip
    arn = cloud.arn(key)
    violations = []
    missing = [a for a in actions if not cloud.evaluate(principal, a, arn, context, resource=key)]
    if missing:
        violations.append(f"{user.label}: the key policy of {key.label} does not allow {principal} "
                          f"{', '.join(missing)} {purpose} (request context {describe(context)})")  # fmt: skip
    if not source_keys:  # the service's request carries nothing to condition on (see EVENTBRIDGE)
        return violations
    foreign = confused_deputy_context(context, source_keys)
    admitted = [a for a in actions if a not in missing and cloud.evaluate(principal, a, arn, foreign, resource=key)]
    if admitted:
        violations.append(f"{user.label}: the key policy of {key.label} admits {principal} {', '.join(admitted)} "
                          f"{purpose} without a source condition: it also allows requests made for another account "
                          f"(context {describe(foreign)}); condition the statement on "
                          f"{' or '.join(source_keys)}")  # fmt: skip
    return violations


def keys_admit_services(cloud: Cloud) -> list[str]:
    """Rule 1: log groups, and topics or queues that EventBridge or CloudWatch deliver to, can use their keys."""
    violations: list[str] = []
    for group in cloud.resources("AWS::Logs::LogGroup"):
        if "KmsKeyId" in group.properties:
            violations += checked(group.label, partial(_log_group, cloud, group))
    for topic in cloud.resources("AWS::SNS::Topic"):
        if "KmsMasterKeyId" in topic.properties:
            violations += checked(topic.label, partial(_topic, cloud, topic))
    for queue in cloud.resources("AWS::SQS::Queue"):
        if "KmsMasterKeyId" in queue.properties:
            violations += checked(queue.label, partial(_queue, cloud, queue))
    return violations


def _log_group(cloud: Cloud, group: Resource) -> list[str]:
    stack = group.stack
    service = Principal("service", f"logs.{stack.region}.{url_suffix(stack.partition)}")
    context_key = "kms:EncryptionContext:aws:logs:arn"
    context = {context_key: cloud.arn(group).removesuffix(":*")}
    return key_admits(
        cloud,
        group,
        "KmsKeyId",
        service,
        actions=LOGS_KMS_ACTIONS,
        context=context,
        source_keys=[context_key],
        purpose="to encrypt the log group's events",
    )


def _source(cloud: Cloud, sender: Resource) -> dict[str, str]:
    return {"aws:SourceAccount": sender.stack.account, "aws:SourceArn": cloud.arn(sender)}


def event_rules_targeting(cloud: Cloud, target: Resource) -> Iterator[tuple[Resource, str]]:
    """(rule, how) for every EventBridge rule that sends to ``target``, as a target or as a target's DLQ."""
    names = cloud.identities(target)
    for rule in cloud.resources("AWS::Events::Rule"):
        for entry in cloud.prop(rule, "Targets") or []:
            if entry.get("Arn") in names:
                yield rule, f"target {entry.get('Id')}"
            if entry.get("DeadLetterConfig", {}).get("Arn") in names:
                yield rule, f"dead-letter queue of target {entry.get('Id')}"


def _topic(cloud: Cloud, topic: Resource) -> list[str]:
    violations: list[str] = []
    senders = [(rule, "events.amazonaws.com", how) for rule, how in event_rules_targeting(cloud, topic)]
    for alarm in cloud.resources("AWS::CloudWatch::Alarm"):
        actions = [
            a for p in ("AlarmActions", "OKActions", "InsufficientDataActions") for a in cloud.prop(alarm, p) or []
        ]
        if set(actions) & cloud.identities(topic):
            senders.append((alarm, "cloudwatch.amazonaws.com", "alarm action"))
    for sender, service, how in senders:
        encryption_context = {"kms:EncryptionContext:aws:sns:topicArn": cloud.arn(topic)}
        eventbridge = service == EVENTBRIDGE
        context = encryption_context if eventbridge else {**_source(cloud, sender), **encryption_context}
        principal = Principal("service", service)
        sent_by = f"{sender.stack.label} {sender.logical_id} ({how})"
        violations += key_admits(
            cloud,
            topic,
            "KmsMasterKeyId",
            principal,
            actions=DELIVERY_KMS_ACTIONS,
            context=context,
            source_keys=() if eventbridge else SOURCE_KEYS,
            purpose=f"to publish for {sent_by}",
        )
        if eventbridge:
            violations += delivery_key_is_dedicated(cloud, topic, "KmsMasterKeyId")
        if service == "cloudwatch.amazonaws.com" and not cloud.resource_policy(topic):
            continue  # SNS's default topic policy lets the account's own alarms publish; a TopicPolicy replaces it
        decision = cloud.evaluate(principal, "sns:Publish", cloud.arn(topic), _source(cloud, sender), resource=topic)
        if not decision:
            violations.append(f"{topic.label}: no topic policy lets {service} sns:Publish for {sent_by}: "
                              f"{decision.reason}")  # fmt: skip
    return violations


def _queue(cloud: Cloud, queue: Resource) -> list[str]:
    violations: list[str] = []
    principal = Principal("service", "events.amazonaws.com")
    for rule, how in event_rules_targeting(cloud, queue):
        context = {"kms:EncryptionContext:aws:sqs:arn": cloud.arn(queue)}  # no source keys: see EVENTBRIDGE
        sent_by = f"{rule.stack.label} {rule.logical_id} ({how})"
        violations += key_admits(
            cloud,
            queue,
            "KmsMasterKeyId",
            principal,
            actions=DELIVERY_KMS_ACTIONS,
            context=context,
            source_keys=(),
            purpose=f"to send for {sent_by}",
        )
        violations += delivery_key_is_dedicated(cloud, queue, "KmsMasterKeyId")
        decision = cloud.evaluate(principal, "sqs:SendMessage", cloud.arn(queue), _source(cloud, rule), resource=queue)
        if not decision:
            violations.append(f"{queue.label}: no queue policy lets events.amazonaws.com sqs:SendMessage for "
                              f"{sent_by}: {decision.reason}")  # fmt: skip
    return violations


def delivery_key_is_dedicated(cloud: Cloud, target: Resource, key_property: str) -> list[str]:
    """The key of an EventBridge delivery target admits EventBridge without a source condition (it must, see
    EVENTBRIDGE): it may then encrypt nothing but SNS topics and SQS queues, or EventBridge could be made to use it
    on data of another kind."""
    key = cloud.find(cloud.string(target, target.properties[key_property]), "AWS::KMS::Key")
    if key is None:
        return []  # key_admits already reports a key outside the templates
    names = cloud.identities(key)
    others = sorted(
        res.label
        for res in cloud.resources()
        if res.type not in DELIVERY_TARGET_TYPES and res.type != "AWS::KMS::Alias"
        for prop in KEY_PROPERTIES
        if prop in res.properties and _resolves_to(cloud, res, res.properties[prop], names)
    )
    if not others:
        return []
    return [f"{target.label}: its key {key.label} admits EventBridge without a source condition (AWS documents that "
            f"the delivery's KMS request carries none), so it must encrypt EventBridge delivery targets only, but it "
            f"also encrypts {', '.join(others)}: give those a key of their own"]  # fmt: skip


def _resolves_to(cloud: Cloud, res: Resource, value: object, names: frozenset[str]) -> bool:
    try:
        return cloud.string(res, value) in names
    except ResolveError:
        return False


def readers_can_decrypt(cloud: Cloud) -> list[str]:
    """Rule 2: a role that may read an encrypted bucket or repository may decrypt with its key."""
    roles = list(cloud.resources("AWS::IAM::Role"))
    violations: list[str] = []
    for bucket in cloud.resources("AWS::S3::Bucket"):
        violations += checked(bucket.label, partial(_bucket_readers, cloud, bucket, roles))
    for repository in cloud.resources("AWS::CodeCommit::Repository"):
        if "KmsKeyId" in repository.properties:
            violations += checked(repository.label, partial(_repository_readers, cloud, repository, roles))
    return violations


def bucket_key(cloud: Cloud, bucket: Resource) -> str | None:
    """The customer managed key a bucket encrypts new objects with, if any."""
    for rule in (cloud.prop(bucket, "BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", []):
        default = rule.get("ServerSideEncryptionByDefault", {})
        key = default.get("KMSMasterKeyID")
        if default.get("SSEAlgorithm", "").startswith("aws:kms") and key and not aws_managed(key):
            return str(key)
    return None


def readable_objects(cloud: Cloud, role: Resource, bucket: Resource) -> list[str]:
    """Object ARNs of ``bucket`` that ``role`` may s3:GetObject: one sample per policy pattern naming the bucket's
    objects (wildcards made concrete), and any object at all."""
    bucket_arn = cloud.arn(bucket)
    statements: list[Statement] = [*cloud.identity_policies(role)[0], *cloud.resource_policy(bucket)]
    samples = {f"{bucket_arn}/{OBJECT}"}
    for statement in statements:
        if statement.effect == "Allow" and statement.resources and statement.matches_action("s3:GetObject"):
            samples |= {p.replace("*", "x").replace("?", "x") for p in statement.resources}
    principal = cloud.role_principal(role)
    return sorted(
        sample for sample in samples
        if sample.startswith(f"{bucket_arn}/") and cloud.evaluate(principal, "s3:GetObject", sample, resource=bucket)
    )  # fmt: skip


def _bucket_readers(cloud: Cloud, bucket: Resource, roles: Sequence[Resource]) -> list[str]:
    key_id = bucket_key(cloud, bucket)
    if key_id is None:
        return []
    key = cloud.find(key_id, "AWS::KMS::Key")
    if key is None:
        return [f"{bucket.label}: its key {key_id} is not in the synthesized templates: cannot check its readers"]
    encryption = (cloud.prop(bucket, "BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", [{}])[0]
    violations = []
    for role in roles:
        objects = readable_objects(cloud, role, bucket)
        if not objects:
            continue
        context = {"kms:ViaService": f"s3.{bucket.stack.region}.{url_suffix(bucket.stack.partition)}",
                   "kms:EncryptionContext:aws:s3:arn": cloud.arn(bucket) if encryption.get("BucketKeyEnabled")
                   else objects[0]}  # fmt: skip
        decision = cloud.evaluate(cloud.role_principal(role), "kms:Decrypt", cloud.arn(key), context, resource=key)
        if not decision:
            violations.append(f"{role.label} may s3:GetObject {objects[0]} of {bucket.label} but cannot decrypt it "
                              f"with {key.label}: {decision.reason}")  # fmt: skip
    return violations


def _repository_readers(cloud: Cloud, repository: Resource, roles: Sequence[Resource]) -> list[str]:
    key_id = cloud.string(repository, repository.properties["KmsKeyId"])
    key = cloud.find(key_id, "AWS::KMS::Key")
    if key is None:
        return [] if aws_managed(key_id) else [f"{repository.label}: its key {key_id} is not in the templates"]
    arn = cloud.arn(repository)
    context = {"kms:ViaService": f"codecommit.{repository.stack.region}.{url_suffix(repository.stack.partition)}"}
    violations = []
    for role in roles:
        principal = cloud.role_principal(role)
        reads = [a for a in CODECOMMIT_READ if cloud.evaluate(principal, a, arn, resource=repository)]
        if not reads:
            continue
        decision = cloud.evaluate(principal, "kms:Decrypt", cloud.arn(key), context, resource=key)
        if not decision:
            violations.append(f"{role.label} may {', '.join(reads)} on {repository.label} but cannot decrypt with "
                              f"{key.label}: {decision.reason}")  # fmt: skip
    return violations
