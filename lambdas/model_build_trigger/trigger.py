"""Decide whether a push retrains, and start the model-build CI pipeline on exactly that commit.

CodeCommit pushes arrive as EventBridge events; CodePipeline's file-path trigger filters only exist for
CodeConnections sources, so this function does the filtering: it asks CodeCommit which files the push changed and
starts the pipeline (pinned to the pushed commit) only if one of them matches the configured patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CodeCommitStateChange(BaseModel):
    """``detail`` of a "CodeCommit Repository State Change" event."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event: Literal["referenceCreated", "referenceUpdated", "referenceDeleted"]
    repository_name: str = Field(alias="repositoryName")
    reference_type: str = Field(alias="referenceType")
    reference_name: str = Field(alias="referenceName")
    commit_id: str | None = Field(default=None, alias="commitId")
    old_commit_id: str | None = Field(default=None, alias="oldCommitId")


@dataclass(frozen=True)
class Decision:
    started: bool
    reason: str
    matched_paths: tuple[str, ...] = ()
    execution_id: str | None = None


@lru_cache(maxsize=64)
def _pattern(glob: str) -> re.Pattern[str]:
    """``**`` any number of path parts, ``*`` and ``?`` within one part."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def matches(path: str, patterns: list[str]) -> bool:
    return any(_pattern(glob).fullmatch(path) for glob in patterns)


def changed_paths(codecommit: Any, repository: str, before: str, after: str) -> list[str]:
    """Every path added, changed or deleted between two commits (both sides of a rename)."""
    paths: set[str] = set()
    request: dict[str, str] = {
        "repositoryName": repository,
        "beforeCommitSpecifier": before,
        "afterCommitSpecifier": after,
    }
    while True:
        page = codecommit.get_differences(**request)
        for difference in page.get("differences", []):
            for side in ("beforeBlob", "afterBlob"):
                if side in difference:
                    paths.add(difference[side]["path"])
        if not page.get("NextToken"):
            return sorted(paths)
        request["NextToken"] = page["NextToken"]


def decide_and_start(
    change: CodeCommitStateChange,
    *,
    codecommit: Any,
    codepipeline: Any,
    pipeline_name: str,
    branch: str,
    patterns: list[str],
    source_action: str = "Source",
) -> Decision:
    """Start ``pipeline_name`` on the pushed commit if the push touched a path matching ``patterns``."""
    if change.reference_type != "branch" or change.reference_name != branch:
        return Decision(False, f"{change.reference_type} {change.reference_name!r} is not the branch {branch!r}")
    if change.event == "referenceDeleted" or not change.commit_id:
        return Decision(False, f"branch {branch!r} was deleted")
    if change.event == "referenceCreated" or not change.old_commit_id:
        matched: tuple[str, ...] = ("(new branch: every file is new)",)
    else:
        paths = changed_paths(codecommit, change.repository_name, change.old_commit_id, change.commit_id)
        matched = tuple(p for p in paths if matches(p, patterns))
        if not matched:
            return Decision(False, f"none of the {len(paths)} changed paths matches {patterns}")
    response = codepipeline.start_pipeline_execution(
        name=pipeline_name,
        sourceRevisions=[{"actionName": source_action, "revisionType": "COMMIT_ID", "revisionValue": change.commit_id}],
        clientRequestToken=change.commit_id,  # a retried event does not start a second execution
    )
    return Decision(True, f"started {pipeline_name} on {change.commit_id}", matched, response["pipelineExecutionId"])
