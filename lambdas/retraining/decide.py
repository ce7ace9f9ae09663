"""Decide what one event leads to, and start the training pipeline when every guardrail passes.

Guardrails (all must pass, in this order):
(d) the event was never decided before (its event item; a duplicate is reported, nothing else happens);
(a) no execution of the pipeline is Executing or Stopping (ListPipelineExecutions);
(b) the last start by this function is older than COOLDOWN_MINUTES and (c) fewer than DAILY_MAX started today (UTC):
    both checked and recorded by one conditional UpdateItem of the pipeline item (state.StateStore.reserve), which
    is what makes concurrent events yield one start.

Failures and retries: a step that fails raises, and the retried invocation resumes where its event stands. An event
holding the slot (its item says ``reserved``) goes straight to StartPipelineExecution with its ClientRequestToken, so
a start whose answer was lost is not repeated; an event already decided whose SNS message failed re-sends that
message and does nothing else (``replayed``). Other events meanwhile find the slot taken (cooldown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retraining.events import Ignored, Trigger, parse_event
from retraining.pipeline import request_token, running_execution, start_execution
from retraining.settings import Settings
from retraining.state import DECIDED, RESERVED, EventRecord, StateStore

STARTED = "started"
SUPPRESSED_RUNNING = "suppressed_running"
SUPPRESSED_COOLDOWN = "suppressed_cooldown"
SUPPRESSED_DAILY_CAP = "suppressed_daily_cap"
DUPLICATE = "duplicate"
IGNORED = "ignored"
#: A decision recorded but not yet notified is re-sent by a later delivery only once it is this old: a younger one
#: belongs to an invocation still publishing it (a concurrent delivery of the same event). Lambda's first retry of
#: a failed invocation comes about a minute later, so a failed publish is still re-sent.
NOTIFY_GRACE = timedelta(seconds=30)
#: Why a reservation was refused, as a decision.
SUPPRESSIONS = {"cooldown": SUPPRESSED_COOLDOWN, "daily_cap": SUPPRESSED_DAILY_CAP}
DECISIONS = (STARTED, SUPPRESSED_RUNNING, SUPPRESSED_COOLDOWN, SUPPRESSED_DAILY_CAP, DUPLICATE, IGNORED)


@dataclass(frozen=True)
class Outcome:
    """What one event led to, and why."""

    decision: str
    reason: str
    trigger: Trigger | None = None
    ignored: Ignored | None = None
    execution_arn: str | None = None
    #: The event item holds this decision and waits for its notification (mark it notified once published).
    recorded: bool = False
    #: Decided by an earlier invocation of the same event whose notification failed: only the message is re-sent.
    replayed: bool = False

    @property
    def event_id(self) -> str | None:
        return self.trigger.event_id if self.trigger else self.ignored.event_id if self.ignored else None

    @property
    def alarm_name(self) -> str | None:
        if self.trigger is not None:
            return self.trigger.name if self.trigger.kind == "alarm" else None
        return self.ignored.alarm_name if self.ignored else None


def evaluate(event: Any, settings: Settings, *, store: StateStore, sagemaker: Callable[[], Any],
             now: datetime) -> Outcome:  # fmt: skip
    """Parse the event and decide; ``sagemaker`` gives the (possibly cross-account) client when it is needed."""
    parsed = parse_event(event, settings)
    if isinstance(parsed, Ignored):
        return Outcome(IGNORED, parsed.reason, ignored=parsed)
    return decide(parsed, settings, store=store, sagemaker=sagemaker, now=now)


def decide(trigger: Trigger, settings: Settings, *, store: StateStore, sagemaker: Callable[[], Any],
           now: datetime) -> Outcome:  # fmt: skip
    record = store.event(trigger.key)
    if record is not None and record.state == DECIDED:
        return _already_decided(trigger, record, now)
    token = request_token(settings.pipeline_name, trigger.key)
    if record is not None and record.state == RESERVED:
        return _start(trigger, settings, store=store, sagemaker=sagemaker, now=now, token=token, resumed=True)

    running = running_execution(sagemaker(), settings.pipeline_name, now)
    if running is not None:
        started = running.get("StartTime")
        when = started.isoformat() if isinstance(started, datetime) else "at an unknown time"
        return _suppress(
            trigger, store, now, SUPPRESSED_RUNNING,
            f"execution {running.get('PipelineExecutionArn')} of {settings.pipeline_name} is "
            f"{running.get('PipelineExecutionStatus')} (started {when}): one retraining at a time",
        )  # fmt: skip
    reservation = store.reserve(
        trigger.key, trigger=trigger.parameter, token=token, now=now,
        cooldown=timedelta(minutes=settings.cooldown_minutes), daily_max=settings.daily_max,
    )  # fmt: skip
    if reservation.outcome in SUPPRESSIONS:
        return _suppress(trigger, store, now, SUPPRESSIONS[reservation.outcome], reservation.detail)
    if not store.mark_reserved(trigger.key, trigger.parameter, token, now):
        return Outcome(DUPLICATE, "another delivery of this event decided it meanwhile", trigger)
    return _start(trigger, settings, store=store, sagemaker=sagemaker, now=now, token=token,
                  resumed=reservation.outcome == "held")  # fmt: skip


def _already_decided(trigger: Trigger, record: EventRecord, now: datetime) -> Outcome:
    decided_at = datetime.fromisoformat(record.updated_at) if record.updated_at else None
    if not record.notified and (decided_at is None or now - decided_at >= NOTIFY_GRACE):
        return Outcome(record.decision or DUPLICATE, record.reason or "", trigger,
                       execution_arn=record.execution_arn, recorded=True, replayed=True)  # fmt: skip
    return Outcome(
        DUPLICATE,
        f"this event was already decided ({record.decision} at {record.updated_at}: {record.reason}); a re-delivery "
        "changes nothing",
        trigger,
        execution_arn=record.execution_arn,
    )


def _suppress(trigger: Trigger, store: StateStore, now: datetime, decision: str, reason: str) -> Outcome:
    if store.record_decision(trigger.key, trigger=trigger.parameter, decision=decision, reason=reason, now=now):
        return Outcome(decision, reason, trigger, recorded=True)
    return Outcome(DUPLICATE, f"another delivery of this event decided it meanwhile (this one found: {reason})",
                   trigger)  # fmt: skip


def _start(trigger: Trigger, settings: Settings, *, store: StateStore, sagemaker: Callable[[], Any], now: datetime,
           token: str, resumed: bool) -> Outcome:  # fmt: skip
    arn = start_execution(sagemaker(), settings, trigger, token)
    reason = (
        f"no execution of {settings.pipeline_name} running, the last start older than {settings.cooldown_minutes} "
        f"minutes, fewer than {settings.daily_max} today: started {arn} with InputDataUri="
        f"{settings.training_data_uri} and Trigger={trigger.parameter}"
    )
    if resumed:
        reason += " (this event had reserved the start in an earlier attempt that failed before confirming it)"
    recorded = store.record_decision(
        trigger.key, trigger=trigger.parameter, decision=STARTED, reason=reason, now=now, execution_arn=arn
    )
    if not recorded:
        return Outcome(DUPLICATE, f"another delivery of this event recorded its start ({arn}) meanwhile", trigger,
                       execution_arn=arn)  # fmt: skip
    store.confirm_start(trigger.key, arn)
    return Outcome(STARTED, reason, trigger, execution_arn=arn, recorded=True)
