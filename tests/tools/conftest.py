"""Fixtures of the Train tool's tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The tool's story is in its INFO lines (pytest's handler keeps logging.basicConfig from setting the level)."""
    caplog.set_level(logging.INFO)
