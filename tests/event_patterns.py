"""Real-shaped events against synthesized EventBridge rule patterns, matched by moto's implementation of
EventBridge's pattern language (exact values, prefix, anything-but, exists, numeric, $or)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moto.events.models import EventPattern, EventPatternParser


def concrete(node: Any, tokens: Mapping[str, str]) -> Any:
    """``node`` with every CloudFormation intrinsic (``{"Ref": ...}``, ``{"Fn::GetAtt": ...}``, ...) replaced by
    the value ``tokens`` gives for its JSON text; an intrinsic without a value is an error, never a silent match."""
    if isinstance(node, dict):
        if len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::")):
            key = json.dumps(node, sort_keys=True)
            if key not in tokens:
                raise KeyError(f"no concrete value for {key} (known: {sorted(tokens)})")
            return tokens[key]
        return {name: concrete(value, tokens) for name, value in node.items()}
    if isinstance(node, list):
        return [concrete(item, tokens) for item in node]
    return node


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether EventBridge would deliver ``event`` to a rule with ``pattern`` (the pattern is validated first)."""
    text = json.dumps(pattern)
    matched: bool = EventPattern(text, EventPatternParser(text).parse()).matches_event(dict(event))  # type: ignore[arg-type]
    return matched


def event(source: str, detail_type: str, detail: Mapping[str, Any], *, resources: list[str] | None = None,
          account: str = "123456789012", region: str = "eu-west-1") -> dict[str, Any]:  # fmt: skip
    """An EventBridge event envelope as AWS services send it."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": "2026-12-01T12:00:00Z",
        "region": region,
        "resources": resources or [],
        "detail": dict(detail),
    }
