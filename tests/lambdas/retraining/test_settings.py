"""The function's environment, as the stack sets it, is checked once at cold start: every wrong variable is named."""

from __future__ import annotations

import json

import pytest
from retraining.settings import Settings

from tests.lambdas.retraining.world import environ_for


def test_the_stack_shaped_environment_is_accepted() -> None:
    settings = Settings.from_environ(environ_for("ok", STARTER_ROLE_ARN="arn:aws:iam::222222222222:role/starter"))
    assert settings.starter_role_arn == "arn:aws:iam::222222222222:role/starter"
    assert len(settings.alarm_arns) == 3
    assert settings.daily_max >= 1


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"PIPELINE_NAME": ""}, ["PIPELINE_NAME is not set"]),
        ({"DAILY_MAX": "0", "COOLDOWN_MINUTES": "soon"}, ["DAILY_MAX=0 is below 1", "COOLDOWN_MINUTES='soon'"]),
        ({"ALARM_ARNS": "[]"}, ["ALARM_ARNS is empty"]),
        ({"ALARM_ARNS": json.dumps(["mlops-prod-endpoint-auc"])}, ["ALARM_ARNS holds values that are not such ARNs"]),
        ({"SCHEDULE_ARNS": "rule/x"}, ["SCHEDULE_ARNS is not JSON"]),
        ({"TRAINING_DATA_URI": "datasets/fresh/"}, ["TRAINING_DATA_URI="]),
        ({"STARTER_ROLE_ARN": "starter"}, ["STARTER_ROLE_ARN="]),
    ],
)
def test_every_wrong_variable_is_named(changes: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ValueError, match="environment variables are wrong") as info:
        Settings.from_environ({**environ_for("bad"), **changes})
    for fragment in named:
        assert fragment in str(info.value), str(info.value)
