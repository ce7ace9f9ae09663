"""Every decision is published to the project topic, readable by a person on call.

A publish that fails raises (the invocation is retried). The decision itself is already recorded by then, so the
retry re-sends this message (``Outcome.replayed``) and starts nothing: a lost notification never costs a second
retraining.
"""

from __future__ import annotations

from typing import Any

from retraining.decide import IGNORED, STARTED, Outcome
from retraining.settings import Settings
from retraining.state import StateStore

#: SNS subjects: at most 100 characters, no line breaks.
MAX_SUBJECT = 100
TITLES = {
    "started": "retraining started",
    "suppressed_running": "retraining suppressed (an execution is running)",
    "suppressed_cooldown": "retraining suppressed (cooldown)",
    "suppressed_daily_cap": "retraining suppressed (daily maximum)",
    "duplicate": "duplicate retraining event",
    "ignored": "retraining event ignored",
}


def subject(outcome: Outcome, settings: Settings) -> str:
    what = outcome.alarm_name or (outcome.trigger.name if outcome.trigger else "")
    text = f"[{settings.environment}] {TITLES.get(outcome.decision, outcome.decision)}" + (f": {what}" if what else "")
    return " ".join(text.split())[:MAX_SUBJECT]


def message(outcome: Outcome, settings: Settings) -> str:
    trigger = outcome.trigger
    if trigger is not None and trigger.kind == "alarm":
        cause = f"alarm {trigger.name} ({trigger.source_arn}) entered ALARM at {trigger.at_iso}: {trigger.why}"
    elif trigger is not None:
        cause = f"scheduled retraining {trigger.name} ({trigger.source_arn}) for {trigger.at_iso}"
    else:
        cause = f"alarm {outcome.alarm_name}" if outcome.alarm_name else "an event this function does not act on"
    lines = [
        f"Decision: {outcome.decision}" + (" (re-sent: the first notification of this decision failed)"
                                           if outcome.replayed else ""),
        f"Environment: {settings.environment}",
        f"Trigger: {cause}",
        f"Event: {outcome.event_id or 'no id'}",
        f"Reason: {outcome.reason}",
        f"Pipeline: {settings.pipeline_name} ({settings.pipeline_region}"
        + (f", through {settings.starter_role_arn})" if settings.starter_role_arn else ")"),
        f"Execution: {outcome.execution_arn or 'none started'}",
    ]  # fmt: skip
    if outcome.decision == STARTED:
        lines.append(f"Training data: {settings.training_data_uri}")
    elif outcome.decision == IGNORED:
        lines.append("Nothing was started. If this event should have started a retraining, check ALARM_ARNS / "
                     "SCHEDULE_ARNS and the EventBridge rule's pattern.")  # fmt: skip
    return "\n".join(lines)


def announce(outcome: Outcome, settings: Settings, *, sns: Any, store: StateStore | None) -> None:
    """Publish the decision; then mark its event item notified (raises if either fails)."""
    sns.publish(TopicArn=settings.topic_arn, Subject=subject(outcome, settings), Message=message(outcome, settings))
    if outcome.recorded and outcome.trigger is not None and store is not None:
        store.mark_notified(outcome.trigger.key)
