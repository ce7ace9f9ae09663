"""The guardrails against moto with real-shaped events: the right start, and every reason not to start."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from retraining.decide import (
    DUPLICATE,
    IGNORED,
    STARTED,
    SUPPRESSED_COOLDOWN,
    SUPPRESSED_DAILY_CAP,
    SUPPRESSED_RUNNING,
)

from tests.lambdas.retraining import sample_events as samples
from tests.lambdas.retraining.world import BIAS, DRIFT, QUALITY, World

pytestmark = pytest.mark.xdist_group("retraining-moto")


def test_an_alarm_starts_the_pipeline_on_fresh_data_recording_the_trigger(world: World) -> None:
    event = samples.alarm_event(world.alarm(DRIFT), timestamp="2026-12-01T10:05:12.345+0000")

    outcome = world.deliver(event)

    assert outcome.decision == STARTED
    [execution] = world.executions()
    assert execution["arn"] == outcome.execution_arn
    assert execution["parameters"] == {
        "InputDataUri": world.settings.training_data_uri,
        "Trigger": f"alarm:{world.alarm(DRIFT)}@2026-12-01T10:05:12Z",
    }
    assert world.alarm(DRIFT) in execution["description"]
    assert "Threshold Crossed" in execution["description"]  # CloudWatch's reason says why
    assert execution["display_name"] == "retrain-alarm-20261201T100512"
    [(subject, message)] = world.notifications()
    assert "retraining started" in subject
    assert world.alarm(DRIFT) in subject
    for part in (world.alarm(DRIFT), "2026-12-01T10:05:12Z", "Decision: started", str(outcome.execution_arn),
                 event["id"]):  # fmt: skip
        assert part in message
    item = world.item(f"event#alarm#{event['id']}")
    assert item is not None
    assert item["notified"] == {"BOOL": True}


def test_a_running_execution_suppresses(world: World) -> None:
    first = world.deliver(samples.alarm_event(world.alarm(DRIFT), event_id="e-1"))
    assert first.execution_arn is not None
    world.set_status(first.execution_arn, "Executing")
    world.clock.advance(days=2)  # past cooldown and day: only the running execution stands in the way

    outcome = world.deliver(samples.alarm_event(world.alarm(QUALITY), event_id="e-2"))

    assert outcome.decision == SUPPRESSED_RUNNING
    assert first.execution_arn in outcome.reason
    assert len(world.executions()) == 1
    world.set_status(first.execution_arn, "Stopping")
    assert world.deliver(samples.alarm_event(world.alarm(BIAS), event_id="e-3")).decision == SUPPRESSED_RUNNING
    world.set_status(first.execution_arn, "Failed")
    assert world.deliver(samples.alarm_event(world.alarm(BIAS), event_id="e-4")).decision == STARTED
    subjects = [subject for subject, _ in world.notifications()]
    assert sum("an execution is running" in subject for subject in subjects) == 2


def test_inside_the_cooldown_suppresses_and_after_it_starts(world: World) -> None:
    assert world.deliver(samples.alarm_event(world.alarm(DRIFT), event_id="e-1")).decision == STARTED
    world.clock.advance(minutes=359)

    outcome = world.deliver(samples.alarm_event(world.alarm(QUALITY), event_id="e-2"))

    assert outcome.decision == SUPPRESSED_COOLDOWN
    assert "360 minutes" in outcome.reason
    assert "2026-12-01T16:06:00Z" in outcome.reason  # when the next one may start
    assert len(world.executions()) == 1
    world.clock.advance(minutes=1)
    assert world.deliver(samples.alarm_event(world.alarm(QUALITY), event_id="e-3")).decision == STARTED
    assert len(world.executions()) == 2


def test_the_daily_maximum_suppresses_until_the_next_utc_day(world: World) -> None:
    world.clock.now = world.clock.now.replace(hour=0, minute=30)
    decisions = []
    for number in range(4):
        decisions.append(world.deliver(samples.alarm_event(world.alarm(DRIFT), event_id=f"e-{number}")).decision)
        world.clock.advance(hours=7)  # past the 6-hour cooldown every time
    assert decisions == [STARTED, STARTED, SUPPRESSED_DAILY_CAP, SUPPRESSED_DAILY_CAP]  # 00:30, 07:30 | 14:30, 21:30
    assert len(world.executions()) == 2
    assert world.deliver(samples.alarm_event(world.alarm(DRIFT), event_id="e-next-day")).decision == STARTED  # 04:30
    item = world.item(f"pipeline#{samples.REGION}#{world.settings.pipeline_name}")
    assert item is not None
    assert (item["day"]["S"], item["day_count"]["N"]) == ("2026-12-02", "1")


def test_a_hundred_deliveries_of_one_event_start_once(world: World) -> None:
    event = samples.alarm_event(world.alarm(DRIFT))
    outcomes = [world.deliver(event) for _ in range(100)]

    assert [o.decision for o in outcomes].count(STARTED) == 1
    assert {o.decision for o in outcomes[1:]} == {DUPLICATE}
    assert len(world.executions()) == 1
    world.clock.advance(days=3)  # even when the guardrails would let it through again
    assert world.deliver(event).decision == DUPLICATE
    assert len(world.executions()) == 1


def test_a_hundred_concurrent_deliveries_of_one_event_start_once(world: World) -> None:
    event = samples.alarm_event(world.alarm(DRIFT))
    with ThreadPoolExecutor(max_workers=10) as pool:
        decisions = list(pool.map(lambda _: world.deliver(event).decision, range(100)))
    assert decisions.count(STARTED) == 1
    assert set(decisions) == {STARTED, DUPLICATE}
    assert len(world.executions()) == 1


def test_twenty_distinct_alarm_events_in_one_minute_start_once(world: World) -> None:
    kinds = [DRIFT, QUALITY, BIAS]
    outcomes = []
    for number in range(20):
        event = samples.alarm_event(world.alarm(kinds[number % 3]), event_id=f"burst-{number}")
        outcomes.append(world.deliver(event))
        world.clock.advance(seconds=3)
    decisions = [o.decision for o in outcomes]
    assert decisions[0] == STARTED
    # The first start runs (in SageMaker it would be Executing; moto's are Succeeded at once): the cooldown holds.
    assert set(decisions[1:]) == {SUPPRESSED_COOLDOWN}
    assert len(world.executions()) == 1


def test_twenty_distinct_alarm_events_arriving_together_from_threads_start_once(world: World) -> None:
    events = [samples.alarm_event(world.alarm(DRIFT), event_id=f"together-{n}") for n in range(20)]
    barrier = threading.Barrier(20)

    def deliver(event: dict[str, object]) -> str:
        barrier.wait()
        return world.deliver(event).decision

    with ThreadPoolExecutor(max_workers=20) as pool:
        decisions = list(pool.map(deliver, events))

    assert decisions.count(STARTED) == 1
    assert set(decisions) <= {STARTED, SUPPRESSED_COOLDOWN, SUPPRESSED_RUNNING}
    assert len(world.executions()) == 1
    assert len(world.notifications()) == 20  # every decision is published


@pytest.mark.parametrize(
    "make_event",
    [
        pytest.param(lambda w: samples.alarm_event(w.alarm(DRIFT), state="OK"), id="ok-state"),
        pytest.param(lambda w: samples.alarm_event(w.alarm(DRIFT), state="INSUFFICIENT_DATA"), id="insufficient"),
        pytest.param(lambda w: samples.alarm_event(f"{w.alarm(DRIFT)}-other"), id="unknown-alarm"),
        pytest.param(lambda w: samples.alarm_event(w.alarm(DRIFT), arn=samples.alarm_arn(w.alarm(DRIFT), "9" * 12)),
                     id="same-name-other-account"),
        pytest.param(lambda w: {**samples.alarm_event(w.alarm(DRIFT)), "source": "my.app"}, id="foreign-source"),
        pytest.param(lambda w: {**samples.alarm_event(w.alarm(DRIFT)), "detail": {"alarmName": w.alarm(DRIFT)}},
                     id="no-state"),
        pytest.param(lambda w: samples.scheduled_event("someone-elses-rule"), id="foreign-schedule"),
        pytest.param(lambda w: "not an event", id="string"),
        pytest.param(lambda w: None, id="none"),
    ],
)  # fmt: skip
def test_events_not_for_this_function_are_ignored_and_never_start(world: World, make_event: object) -> None:
    event = make_event(world)  # type: ignore[operator]
    outcome = world.deliver(event)
    assert outcome.decision == IGNORED
    assert outcome.reason
    assert world.executions() == []
    [(subject, message)] = world.notifications()
    assert "ignored" in subject
    assert outcome.reason in message


def test_a_scheduled_retraining_goes_through_the_same_guardrails(world: World) -> None:
    rule = f"{world.project}-dev-retraining-schedule"
    outcome = world.deliver(samples.scheduled_event(rule, time="2026-12-01T06:00:00Z"))
    assert outcome.decision == STARTED
    [execution] = world.executions()
    assert execution["parameters"]["Trigger"] == "schedule@2026-12-01T06:00:00Z"
    assert execution["parameters"]["InputDataUri"] == world.settings.training_data_uri
    # The same tick delivered again (a new event id, as Scheduler gives every attempt) is the same trigger.
    again = samples.scheduled_event(rule, time="2026-12-01T06:00:00Z", event_id="another-attempt")
    assert world.deliver(again).decision == DUPLICATE
    # An alarm inside the cooldown of a scheduled start is suppressed like any other.
    assert world.deliver(samples.alarm_event(world.alarm(DRIFT))).decision == SUPPRESSED_COOLDOWN
    assert len(world.executions()) == 1
