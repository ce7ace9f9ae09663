"""The guardrails' state in DynamoDB: one item for the pipeline (cooldown, daily count, who holds the last start) and
one item per event (deduplication), written with conditional writes.

Why DynamoDB and not state derived from SageMaker: "the last start *by this function*" and "starts today" could be
read from ListPipelineExecutions, but not atomically: two concurrent events would both see the same history and both
start. A conditional UpdateItem on one item is atomic, so 20 distinct events arriving together reserve the slot once.

Table: partition key ``pk`` (string), no sort key, TTL attribute ``expires_at`` (epoch seconds; event items only).

Pipeline item, ``pk = "pipeline#<region>#<pipeline name>"``:
  ``last_start_epoch`` (N, when the slot was last reserved), ``last_start_at`` (S, same as ISO), ``day`` (S, UTC day
  ``YYYY-MM-DD`` of that reservation), ``day_count`` (N, reservations on ``day``), ``holder`` (S, the event key that
  reserved it), ``holder_token`` (S, its ClientRequestToken), ``holder_trigger`` (S), ``execution_arn`` (S, once
  the holder's start is confirmed).
Event item, ``pk = "event#<trigger key>"``:
  ``state`` (S, ``reserved``: holds the slot, start not confirmed; ``decided``: final), ``decision``, ``reason``,
  ``trigger`` (S), ``execution_arn`` (S, when started), ``notified`` (BOOL: the decision's SNS message went out),
  ``updated_at`` (S), ``expires_at`` (N, TTL).

A reservation is counted as a start: if the start then fails, the slot stays taken (the cooldown and the cap hold)
and only a retry of *that* event may complete it, with the same ClientRequestToken. Releasing it instead could let a
second start through when the first one did happen but its answer was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

#: Event items outlive every re-delivery: EventBridge retries for up to 24 h, Lambda's asynchronous retries for 6 h.
EVENT_TTL = timedelta(days=30)
RESERVED, DECIDED = "reserved", "decided"
#: A reservation attempt that loses a race re-reads the item and tries again; the day can roll over at most once.
MAX_RESERVE_ATTEMPTS = 4


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditional_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@dataclass(frozen=True)
class EventRecord:
    state: str
    decision: str | None
    reason: str | None
    execution_arn: str | None
    notified: bool
    updated_at: str | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> EventRecord:
        def s(name: str) -> str | None:
            return item[name]["S"] if name in item else None

        return cls(
            state=s("state") or "",
            decision=s("decision"),
            reason=s("reason"),
            execution_arn=s("execution_arn"),
            notified=bool(item.get("notified", {}).get("BOOL", False)),
            updated_at=s("updated_at"),
        )


@dataclass(frozen=True)
class Slot:
    """The pipeline item as read."""

    last_start_epoch: int | None
    last_start_at: str | None
    day: str | None
    day_count: int
    holder: str | None
    holder_trigger: str | None

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Slot | None:
        if not item:
            return None
        return cls(
            last_start_epoch=int(item["last_start_epoch"]["N"]) if "last_start_epoch" in item else None,
            last_start_at=item.get("last_start_at", {}).get("S"),
            day=item.get("day", {}).get("S"),
            day_count=int(item.get("day_count", {}).get("N", "0")),
            holder=item.get("holder", {}).get("S"),
            holder_trigger=item.get("holder_trigger", {}).get("S"),
        )


@dataclass(frozen=True)
class Reservation:
    """``reserved``: this event now holds the slot; ``held``: it already did (a retry); otherwise why not."""

    outcome: Literal["reserved", "held", "cooldown", "daily_cap"]
    slot: Slot | None
    detail: str = ""


class StateStore:
    def __init__(self, dynamodb: Any, table: str, pipeline_region: str, pipeline_name: str) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.pipeline_key = f"pipeline#{pipeline_region}#{pipeline_name}"

    @staticmethod
    def event_key(trigger_key: str) -> str:
        return f"event#{trigger_key}"

    def event(self, trigger_key: str) -> EventRecord | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": self.event_key(trigger_key)}}, ConsistentRead=True
        ).get("Item")
        return EventRecord.from_item(item) if item else None

    def slot(self) -> Slot | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": self.pipeline_key}}, ConsistentRead=True
        ).get("Item")
        return Slot.from_item(item)

    def reserve(
        self, trigger_key: str, *, trigger: str, token: str, now: datetime, cooldown: timedelta, daily_max: int
    ) -> Reservation:
        """Take the pipeline's start slot for this event if the cooldown and the daily cap allow it, with ONE
        conditional UpdateItem whose condition re-checks exactly what was read: a concurrent reservation makes it
        fail, and the item it returns (ALL_OLD) says why."""
        now_epoch, today = int(now.timestamp()), now.astimezone(UTC).strftime("%Y-%m-%d")
        cutoff = now_epoch - int(cooldown.total_seconds())
        slot = self.slot()
        for _ in range(MAX_RESERVE_ATTEMPTS):
            verdict = self._verdict(slot, trigger_key, cutoff=cutoff, today=today, cooldown=cooldown,
                                    daily_max=daily_max)  # fmt: skip
            if verdict is not None:
                return verdict
            same_day = slot is not None and slot.day == today
            values: dict[str, Any] = {
                ":now": {"N": str(now_epoch)}, ":now_iso": {"S": _iso(now)}, ":today": {"S": today},
                ":one": {"N": "1"}, ":cutoff": {"N": str(cutoff)}, ":key": {"S": trigger_key},
                ":token": {"S": token}, ":trigger": {"S": trigger},
            }  # fmt: skip
            if same_day:
                count = "day_count = day_count + :one"
                condition = "#day = :today AND day_count < :max AND last_start_epoch <= :cutoff"
                values[":max"] = {"N": str(daily_max)}
            else:
                count = "#day = :today, day_count = :one"
                condition = (
                    "(attribute_not_exists(#day) OR #day <> :today) AND "
                    "(attribute_not_exists(last_start_epoch) OR last_start_epoch <= :cutoff)"
                )
            try:
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": self.pipeline_key}},
                    UpdateExpression=(
                        f"SET last_start_epoch = :now, last_start_at = :now_iso, {count}, holder = :key, "
                        "holder_token = :token, holder_trigger = :trigger REMOVE execution_arn"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#day": "day"},
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not _conditional_failure(error):
                    raise
                slot = Slot.from_item(error.response.get("Item"))  # the item that won: re-decide on it
                continue
            return Reservation("reserved", slot)
        raise RuntimeError(f"the state item {self.pipeline_key} kept changing during {MAX_RESERVE_ATTEMPTS} attempts")

    @staticmethod
    def _verdict(
        slot: Slot | None, trigger_key: str, *, cutoff: int, today: str, cooldown: timedelta, daily_max: int
    ) -> Reservation | None:
        if slot is None:
            return None
        if slot.holder == trigger_key:
            return Reservation("held", slot)
        if slot.last_start_epoch is not None and slot.last_start_epoch > cutoff:
            until = datetime.fromtimestamp(slot.last_start_epoch, UTC) + cooldown
            return Reservation(
                "cooldown",
                slot,
                f"the last retraining was started at {slot.last_start_at} ({slot.holder_trigger}), less than "
                f"{int(cooldown.total_seconds() // 60)} minutes ago (COOLDOWN_MINUTES); the next one may start "
                f"after {_iso(until)}",
            )
        if slot.day == today and slot.day_count >= daily_max:
            return Reservation(
                "daily_cap",
                slot,
                f"{slot.day_count} retraining(s) already started on {today} (UTC), the daily maximum (DAILY_MAX="
                f"{daily_max}); the last at {slot.last_start_at} ({slot.holder_trigger})",
            )
        return None

    def mark_reserved(self, trigger_key: str, trigger: str, token: str, now: datetime) -> bool:
        """Record on the event that it holds the slot, so that its retry completes the start without re-checking the
        guardrails (its own execution would look like a running one). False when another delivery of the same event
        has decided it meanwhile."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": self.event_key(trigger_key)},
                    "state": {"S": RESERVED},
                    "trigger": {"S": trigger},
                    "token": {"S": token},
                    "notified": {"BOOL": False},
                    "updated_at": {"S": _iso(now)},
                    "expires_at": {"N": str(int((now + EVENT_TTL).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk) OR #state = :reserved",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":reserved": {"S": RESERVED}},
            )
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def record_decision(
        self,
        trigger_key: str,
        *,
        trigger: str,
        decision: str,
        reason: str,
        now: datetime,
        execution_arn: str | None = None,
    ) -> bool:
        """Record the event's final decision (notified: not yet). False when another delivery of the same event
        recorded one first (a started decision may only replace this event's own reservation)."""
        item: dict[str, Any] = {
            "pk": {"S": self.event_key(trigger_key)}, "state": {"S": DECIDED}, "decision": {"S": decision},
            "reason": {"S": reason}, "trigger": {"S": trigger}, "notified": {"BOOL": False},
            "updated_at": {"S": _iso(now)}, "expires_at": {"N": str(int((now + EVENT_TTL).timestamp()))},
        }  # fmt: skip
        condition, values = "attribute_not_exists(pk)", {}
        if execution_arn is not None:
            item["execution_arn"] = {"S": execution_arn}
            condition, values = "attribute_not_exists(pk) OR #state = :reserved", {":reserved": {"S": RESERVED}}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                **({"ExpressionAttributeNames": {"#state": "state"}, "ExpressionAttributeValues": values}
                   if values else {}),
            )  # fmt: skip
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def confirm_start(self, trigger_key: str, execution_arn: str) -> None:
        """Note the started execution on the pipeline item while this event still holds it (for people reading it)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": self.pipeline_key}},
                UpdateExpression="SET execution_arn = :arn",
                ConditionExpression="holder = :key",
                ExpressionAttributeValues={":arn": {"S": execution_arn}, ":key": {"S": trigger_key}},
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise

    def mark_notified(self, trigger_key: str) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": self.event_key(trigger_key)}},
            UpdateExpression="SET notified = :true",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
