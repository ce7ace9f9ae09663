"""`make test`'s parallel workers (tests/shared_fixture_groups.py): the tests that share an expensive session fixture,
or an ``xdist_group`` mark, run on one worker; the others are spread over both.

Runs pytest with two xdist workers on a small generated suite. Without the plugin, pytest 9.2 with xdist 3.8 spreads
the grouped tests too (pytest-dev/pytest-xdist#1386), so each worker would build its own synthesized app.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import REPO_ROOT

SUITE = """
import time
import pytest

@pytest.fixture(scope="session")
def synthesized_app():
    return object()

@pytest.fixture
def stacks(synthesized_app):  # uses the shared fixture through another fixture
    return synthesized_app

@pytest.mark.parametrize("i", range(4))
def test_app(synthesized_app, i):
    time.sleep(0.05)

@pytest.mark.parametrize("i", range(3))
def test_stacks(stacks, i):
    time.sleep(0.05)

@pytest.mark.xdist_group("marked")
@pytest.mark.parametrize("i", range(4))
def test_marked(i):
    time.sleep(0.05)

@pytest.mark.parametrize("i", range(12))
def test_free(i):
    time.sleep(0.1)
"""


def workers_of(output: str) -> dict[str, set[str]]:
    """Test function name -> the workers that ran its cases (from pytest -v's "[gwN] ... PASSED path::name[...]")."""
    ran: dict[str, set[str]] = defaultdict(set)
    for worker, name in re.findall(r"^\[(gw\d)\].*PASSED \S+::(test_\w+)", output, re.MULTILINE):
        ran[name].add(worker)
    return ran


def test_grouped_tests_share_one_worker_and_the_rest_spread(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.shared_fixture_groups", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "loadgroup", "-v", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = workers_of(result.stdout)
    assert sum(1 for line in result.stdout.splitlines() if " PASSED " in line) == 23
    assert len(ran["test_app"] | ran["test_stacks"]) == 1, ran
    assert len(ran["test_marked"]) == 1, ran
    assert ran["test_free"] == {"gw0", "gw1"}, ran
