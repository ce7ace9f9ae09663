"""Parallel tests that share expensive session fixtures: `pytest -n 2 --dist loadgroup` (what `make test` runs).

Every xdist worker builds its own session fixtures, and a synthesized app costs ~10 s in a fresh process (jsii's
start-up, then the synth). So the tests that use one of :data:`SHARED_FIXTURE_GROUPS`' fixtures (directly or through
other fixtures) form one group that runs on a single worker, while every other test goes to whichever worker is free.
Tests marked ``@pytest.mark.xdist_group(name)`` are grouped by that name, as xdist documents.

Why not xdist's own loadgroup scheduler: it learns the groups from a suffix it appends to each node id, which pytest
9.2's structured node ids no longer carry (pytest-dev/pytest-xdist#1386), so it silently runs every group on every
worker. Here each worker writes the group of every test it collected to a file named by the controller, and the
controller's scheduler (:class:`xdist.scheduler.LoadScopeScheduling` with one scope per group, and one per ungrouped
test) reads it once all workers have collected. The biggest scopes are scheduled first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

#: Fixture -> group. The synthesized apps share one group: the first synth in a process pays jsii's start-up, later
#: ones cost ~2 s. ``app_stacks`` picks its app at run time (getfixturevalue), so it is listed too.
SHARED_FIXTURE_GROUPS = {
    "synthesized_app": "synth",
    "cross_account_app": "synth",
    "other_partition_app": "synth",
    "app_stacks": "synth",
    "serving_variant": "synth",
    "storage_without_serving": "synth",
    "sample_run": "sample-run",
}
#: Key of the groups file in each worker's ``workerinput``.
GROUPS_FILE_INPUT = "shared_fixture_groups_file"
_GROUPS_DIR = pytest.StashKey[Path]()


def group_of(item: pytest.Item, shared: dict[str, str] = SHARED_FIXTURE_GROUPS) -> str | None:
    """The group of ``item``: its ``xdist_group`` marks (joined, as xdist does), else that of the first fixture of
    ``shared`` it uses, else None."""
    marked = sorted(
        {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
    )
    if marked:
        return "_".join(marked)
    fixturenames = getattr(item, "fixturenames", ())
    return next((group for fixture, group in shared.items() if fixture in fixturenames), None)


def groups_file(config: pytest.Config) -> Path:
    """The controller's file through which the workers report the groups (one per run)."""
    if _GROUPS_DIR not in config.stash:
        config.stash[_GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="pytest-groups-"))
    return config.stash[_GROUPS_DIR] / "groups.json"


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a worker: write every grouped test's node id and group (after all collection hooks, so with final ids)."""
    workerinput: dict[str, Any] = getattr(session.config, "workerinput", {})
    target = workerinput.get(GROUPS_FILE_INPUT)
    if target is None:
        return
    groups = {item.nodeid: group for item in session.items if (group := group_of(item)) is not None}
    partial = Path(f"{target}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(groups), encoding="utf-8")
    partial.replace(target)  # atomic: the workers write the same content, the controller never reads half of it


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """On the controller, per worker: tell it where to write the groups."""
    node.workerinput[GROUPS_FILE_INPUT] = str(groups_file(node.config))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """On the controller: ``--dist loadgroup`` gets the scheduler below; other modes keep xdist's."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = groups_file(config)

    class SharedFixtureScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type hints
        """Load scheduling with one scope per group and one per ungrouped test."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:
                # Called once every worker has collected, so the file is there; without it, no test is grouped.
                self._groups = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            return self._groups.get(nodeid, nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _GROUPS_DIR in config.stash:
        shutil.rmtree(config.stash[_GROUPS_DIR], ignore_errors=True)
