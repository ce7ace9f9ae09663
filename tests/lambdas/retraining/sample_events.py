"""Events shaped like the examples of the AWS documentation.

The alarm event follows the CloudWatch user guide ("Alarm events and EventBridge", metric alarm state change): the
envelope, ``resources`` with the alarm ARN, and the detail with ``alarmName``, ``state`` / ``previousState`` (value,
reason, JSON reasonData, timestamp in CloudWatch's ``...+0000`` form) and ``configuration``. The scheduled event is
what a scheduled EventBridge rule sends; the Scheduler variant is the input documented in retraining.events.
"""

from __future__ import annotations

import copy
import json
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
#: The account of the registry whose pipeline a cross-account environment retrains.
REGISTRY_ACCOUNT = "222222222222"


def alarm_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"


def rule_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


def alarm_event(
    name: str,
    *,
    state: str = "ALARM",
    event_id: str = "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    timestamp: str = "2026-12-01T10:05:12.345+0000",
    arn: str | None = None,
) -> dict[str, Any]:
    """The event CloudWatch sends when the metric alarm ``name`` changes to ``state``."""
    previous = "OK" if state == "ALARM" else "ALARM"
    reason_data = {
        "version": "1.0", "queryDate": timestamp, "startDate": "2026-12-01T09:00:00.000+0000",
        "statistic": "Maximum", "period": 3600, "recentDatapoints": [0.31], "threshold": 0.2,
        "evaluatedDatapoints": [{"timestamp": "2026-12-01T09:00:00.000+0000", "sampleCount": 1.0, "value": 0.31}],
    }  # fmt: skip
    return copy.deepcopy(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": ACCOUNT,
            "time": timestamp[:19] + "Z",
            "region": REGION,
            "resources": [arn or alarm_arn(name)],
            "detail": {
                "alarmName": name,
                "state": {
                    "value": state,
                    "reason": "Threshold Crossed: 1 out of the last 1 datapoints [0.31 (01/12/26 09:00:00)] was "
                    "greater than or equal to the threshold (0.2) (minimum 1 datapoint for OK -> ALARM transition).",
                    "reasonData": json.dumps(reason_data),
                    "timestamp": timestamp,
                },
                "previousState": {
                    "value": previous,
                    "reason": "Threshold Crossed: 1 out of the last 1 datapoints [0.05 (01/12/26 08:00:00)] was not "
                    "greater than or equal to the threshold (0.2) (minimum 1 datapoint for ALARM -> OK transition).",
                    "timestamp": "2026-11-30T08:05:12.345+0000",
                },
                "configuration": {
                    "description": "Max feature PSI of the dev endpoint above the drift threshold",
                    "metrics": [
                        {
                            "id": "7d9bdd0c-2a2b-4d9a-9f1e-3c3c1f6b0d5e",
                            "metricStat": {
                                "metric": {
                                    "namespace": "mlops/Monitoring",
                                    "name": "MaxFeaturePSI",
                                    "dimensions": {"Environment": "dev", "Endpoint": "mlops-dev-endpoint"},
                                },
                                "period": 3600,
                                "stat": "Maximum",
                            },
                            "returnData": True,
                        }
                    ],
                },
            },
        }
    )


def scheduled_event(
    rule: str, *, time: str = "2026-12-01T06:00:00Z", event_id: str = "89d1a02d-5ec7-412e-82f5-13505f849b41"
) -> dict[str, Any]:
    """What the scheduled EventBridge rule ``rule`` sends at ``time``."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [rule_arn(rule)],
        "detail": {},
    }


def scheduler_event(schedule_arn: str, *, time: str, execution_id: str) -> dict[str, Any]:
    """The input an EventBridge Scheduler schedule is given for this function (see retraining.events)."""
    return {
        "version": "0",
        "id": execution_id,
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "time": time,
        "resources": [schedule_arn],
        "detail": {},
    }
