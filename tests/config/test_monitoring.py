"""Monitoring config: what cannot be monitored or retrained is refused with the key and the reason; serving
environments left unmonitored are named at synth."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import DEFAULT_CONFIG_PATH, load_config, load_everything
from tests.config.test_loader import write
from tests.config.test_serving import SERVERLESS, WITH_QA, instances, problems, serving

MONITORED = serving("qa", "      registry: dev\n" + instances(), serving("dev", SERVERLESS))


def monitoring(env_name: str, block: str, text: str = MONITORED) -> str:
    """``text`` with ``block`` (YAML under ``monitoring:``, indented 6) added to ``env_name``."""
    marker = f"  {env_name}:\n"
    return text.replace(marker, f"{marker}    monitoring:\n{block}", 1)


def test_a_monitored_instance_endpoint_with_capture_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, monitoring("qa", "      window_hours: 12\n")))
    settings = config.environments["qa"].monitoring
    assert settings is not None
    assert settings.window_hours == 12
    assert settings.drift.psi > 0
    assert 0 < settings.drift.p_value < 1
    assert settings.retraining is None  # alarms only notify unless asked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (monitoring("dev", "      window_hours: 24\n"), "environments.dev.monitoring: the endpoint is serverless"),
        (monitoring("prod", "      window_hours: 24\n", WITH_QA), "environments.prod.monitoring: the environment has "
         "no serving section"),
        (monitoring("qa", "      window_hours: 24\n", serving("qa", "      registry: dev\n" + instances(
            "        data_capture: null\n"), serving("dev", SERVERLESS))), "data_capture is off"),
        (monitoring("qa", "      retraining: {cooldown_hours: 2}\n"),
         "environments.qa.monitoring.retraining.training_data_prefix: not set"),
        (monitoring("qa", "      retraining: {training_data_prefix: fresh/}\n"),
         "'fresh/' is outside 'datasets/'"),
    ],
)  # fmt: skip
def test_what_cannot_be_monitored_or_retrained_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ("      schedule: every hour\n", "schedule"),
        ("      retraining: {training_data_prefix: datasets/x/, schedule: 'rate(1 days)'}\n", "schedule"),
        ("      retraining: {training_data_prefix: /datasets/x}\n", "training_data_prefix"),
        ("      drift: {psi: 0}\n", "psi"),
        ("      drift: {p_value: 1.5}\n", "p_value"),
        ("      drift: {psi: .inf}\n", "psi"),
        ("      quality: {min_auc: 1.2}\n", "min_auc"),
        ("      bias: {lower: 1.1, upper: 1.25}\n", "lower"),
        ("      alarms: {max_5xx_errors: 0}\n", "alarms"),  # endpoint health alarms are serving.alarms now
        ("      window_hours: 0\n", "window_hours"),
        ("      retrain: {}\n", "retrain"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, block: str, key: str) -> None:
    found = problems(tmp_path, monitoring("qa", block))
    assert any(key in p for p in found), found


def test_retraining_on_fresh_data_under_the_readable_prefix_is_accepted(tmp_path: Path) -> None:
    block = "      retraining: {training_data_prefix: datasets/fresh/, cooldown_hours: 6, max_per_day: 2}\n"
    config = load_config(write(tmp_path, monitoring("qa", block)))
    settings = config.environments["qa"].monitoring
    assert settings is not None
    assert settings.retraining is not None
    assert settings.retraining.max_per_day == 2


def test_unmonitored_serving_environments_are_named_with_the_reason() -> None:
    loaded = load_everything(DEFAULT_CONFIG_PATH, "123456789012")
    notes = [n for n in loaded.notes if "not monitored" in n]
    assert any("environments.dev serves but is not monitored" in n and "serverless" in n for n in notes), notes
    assert any("environments.staging" in n for n in notes), notes
    assert not any("environments.prod" in n for n in notes), notes


def test_endpoint_alarms_and_their_subscribers_belong_to_serving(tmp_path: Path) -> None:
    text = serving("dev", SERVERLESS + "      alarms: {max_5xx_errors: 3, notification_emails: [ops@example.com]}\n",
                   serving("qa", "      registry: dev\n" + instances()))  # fmt: skip
    config = load_config(write(tmp_path, text))
    dev = config.environments["dev"].serving
    assert dev is not None
    assert (dev.alarms.max_5xx_errors, dev.alarms.notification_emails) == (3, ["ops@example.com"])
    bad = serving("dev", SERVERLESS + "      alarms: {notification_emails: [ops]}\n", WITH_QA)
    assert any("notification_emails" in p for p in problems(tmp_path, bad))
