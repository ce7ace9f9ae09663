"""What may start a retraining: a CloudWatch alarm entering ALARM, or a scheduled retraining; anything else is ignored.

Two event shapes are accepted, both EventBridge envelopes:

- ``CloudWatch Alarm State Change`` from ``aws.cloudwatch`` (CloudWatch user guide, "Alarm events and
  EventBridge"): ``resources`` holds the alarm ARN, ``detail.alarmName`` its name, ``detail.state.value`` the new
  state and ``detail.state.timestamp`` when it entered it (``2026-12-01T10:05:12.345+0000``). Only state ``ALARM``
  of an alarm listed in ``ALARM_ARNS`` (by ARN, never a name prefix) is a trigger.
- ``Scheduled Event`` from ``aws.events`` (what a scheduled EventBridge rule sends natively: ``resources`` = the
  rule ARN, ``time`` = the scheduled time). EventBridge Scheduler sends only the input it is given, so a schedule
  targets this function with the same envelope as its input, ``source`` ``aws.scheduler``, ``id``
  ``<aws.scheduler.execution-id>``, ``time`` ``<aws.scheduler.scheduled-time>`` and ``resources``
  ``["<aws.scheduler.schedule-arn>"]``. Only rules/schedules listed in ``SCHEDULE_ARNS`` are triggers.

Scheduled triggers are deduplicated on (schedule ARN, scheduled time), not on the event id: Scheduler gives every
delivery attempt a new execution id, while a rule's re-delivery keeps both. Alarm triggers are deduplicated on the
event id (EventBridge keeps it across re-deliveries; a new state change is a new event).

Parsing uses dataclasses and explicit checks instead of Powertools' pydantic parser models: importing those models
costs ~0.1 s, which alone would break the cold-import budget (1.3x ``import boto3``), and the checks needed are few.
Anything else is *ignored with its reason*, never raised: EventBridge and Lambda would retry a raising invocation and
then park the event in the dead-letter queue, and a malformed event does not get better by being retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from retraining.settings import Settings

ALARM_SOURCE, ALARM_DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
SCHEDULE_SOURCES, SCHEDULE_DETAIL_TYPE = ("aws.events", "aws.scheduler"), "Scheduled Event"
ALARM_STATE = "ALARM"


@dataclass(frozen=True)
class Trigger:
    """An event that asks for a retraining (whether one starts is the guardrails' decision)."""

    kind: Literal["alarm", "schedule"]
    #: The deduplication key: ``alarm#<event id>`` or ``schedule#<schedule ARN>@<scheduled time>``.
    key: str
    event_id: str
    #: The alarm's ARN, or the rule's / schedule's.
    source_arn: str
    #: The alarm's name, or the rule's / schedule's (the ARN's last part).
    name: str
    #: When the alarm entered ALARM, or the scheduled time (UTC).
    at: datetime
    #: CloudWatch's reason for the state change, or a sentence for a schedule.
    why: str

    @property
    def at_iso(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def parameter(self) -> str:
        """The pipeline's ``Trigger`` parameter: ``alarm:<name>@<time>`` or ``schedule@<time>``."""
        return f"alarm:{self.name}@{self.at_iso}" if self.kind == "alarm" else f"schedule@{self.at_iso}"


@dataclass(frozen=True)
class Ignored:
    """An event this function does nothing with, and why (logged, counted and published)."""

    reason: str
    event_id: str | None = None
    alarm_name: str | None = None


class _MalformedError(Exception):
    """A field is missing or has the wrong type (the message names it)."""


def _get(obj: Mapping[str, Any], path: str, kind: type) -> Any:
    value: Any = obj
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(value, Mapping):
            raise _MalformedError(f"{'.'.join(walked[:-1])} is not an object")
        if part not in value:
            raise _MalformedError(f"{'.'.join(walked)} is missing")
        value = value[part]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise _MalformedError(f"{path} must be a non-empty {kind.__name__}, got {value!r}")
    return value


def _time(obj: Mapping[str, Any], path: str) -> datetime:
    raw = _get(obj, path, str)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as error:
        raise _MalformedError(f"{path}={raw!r} is not an ISO 8601 time") from error
    if parsed.tzinfo is None:
        raise _MalformedError(f"{path}={raw!r} has no time zone")
    return parsed.astimezone(UTC)


def _single_resource(event: Mapping[str, Any]) -> str:
    resources = _get(event, "resources", list)
    if len(resources) != 1 or not isinstance(resources[0], str):
        raise _MalformedError(f"resources must hold exactly one ARN, got {resources!r}")
    return str(resources[0])


def parse_event(event: Any, settings: Settings) -> Trigger | Ignored:
    """The event as a trigger, or why it is ignored (not an object, foreign, malformed, another alarm or schedule,
    an alarm state other than ALARM)."""
    if not isinstance(event, Mapping):
        return Ignored(f"the event is a {type(event).__name__}, not an EventBridge event object")
    raw_id = event.get("id")
    event_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    source, detail_type = event.get("source"), event.get("detail-type")
    try:
        if (source, detail_type) == (ALARM_SOURCE, ALARM_DETAIL_TYPE):
            return _alarm(event, settings)
        if source in SCHEDULE_SOURCES and detail_type == SCHEDULE_DETAIL_TYPE:
            return _schedule(event, settings)
    except _MalformedError as error:
        name = event.get("detail", {}).get("alarmName") if isinstance(event.get("detail"), Mapping) else None
        return Ignored(
            f"malformed {detail_type} event {event_id!r}: {error}", event_id, name if isinstance(name, str) else None
        )
    return Ignored(
        f"not an event this function acts on: source {source!r}, detail-type {detail_type!r} (expected "
        f"{ALARM_DETAIL_TYPE!r} from {ALARM_SOURCE} or {SCHEDULE_DETAIL_TYPE!r} from {' or '.join(SCHEDULE_SOURCES)})",
        event_id,
    )


def _alarm(event: Mapping[str, Any], settings: Settings) -> Trigger | Ignored:
    event_id = _get(event, "id", str)
    _time(event, "time")
    arn = _single_resource(event)
    name = _get(event, "detail.alarmName", str)
    state = _get(event, "detail.state.value", str)
    entered = _time(event, "detail.state.timestamp")
    if arn.rpartition(":alarm:")[2] != name:
        raise _MalformedError(f"detail.alarmName {name!r} is not the alarm of resources[0] {arn!r}")
    if arn not in settings.alarm_arns:
        return Ignored(f"alarm {arn} is not one of the alarms that may start a retraining (ALARM_ARNS)", event_id, name)
    if state != ALARM_STATE:
        return Ignored(f"alarm {name} changed to {state}, not {ALARM_STATE}: nothing to retrain for", event_id, name)
    reason = event["detail"]["state"].get("reason")
    why = reason if isinstance(reason, str) and reason else f"alarm {name} entered {ALARM_STATE}"
    return Trigger("alarm", f"alarm#{event_id}", event_id, arn, name, entered, why)


def _schedule(event: Mapping[str, Any], settings: Settings) -> Trigger | Ignored:
    event_id = _get(event, "id", str)
    when = _time(event, "time")
    arn = _single_resource(event)
    if arn not in settings.schedule_arns:
        listed = "none is configured" if not settings.schedule_arns else "it is not listed"
        return Ignored(f"scheduled event of {arn}: scheduled retraining may start from SCHEDULE_ARNS only, and "
                       f"{listed}", event_id)  # fmt: skip
    name = arn.rpartition("/")[2]
    trigger_key = f"schedule#{arn}@{when.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return Trigger("schedule", trigger_key, event_id, arn, name, when, f"scheduled retraining ({name})")
