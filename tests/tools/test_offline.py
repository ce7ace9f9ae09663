"""The offline environment, defined once (tools/offline.py): what it removes, what it sets, and the command runner."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tools.offline import CREDENTIAL_VARS, OFFLINE_ENV, PLACEHOLDER_ACCOUNT, make_offline, offline_environ

CALLER = {
    "AWS_ACCESS_KEY_ID": "AKIA...",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
    "AWS_PROFILE": "prod-admin",
    "AWS_CONFIG_FILE": "/home/me/.aws/config",
    "MLOPS_CONFIG": "mine.yaml",
    "PATH": "/usr/bin",
}


def test_credentials_are_removed_and_files_and_metadata_turned_off() -> None:
    env = offline_environ(CALLER)
    assert not set(CREDENTIAL_VARS) & set(env)
    assert {k: env[k] for k in OFFLINE_ENV} == OFFLINE_ENV
    assert env["AWS_CONFIG_FILE"] != CALLER["AWS_CONFIG_FILE"]
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["PATH"] == "/usr/bin"
    assert CALLER["AWS_PROFILE"] == "prod-admin"  # the caller's mapping is not changed


def test_the_callers_account_and_config_are_kept_unless_hermetic() -> None:
    assert offline_environ(CALLER)["CDK_DEFAULT_ACCOUNT"] == PLACEHOLDER_ACCOUNT
    assert offline_environ({**CALLER, "CDK_DEFAULT_ACCOUNT": "111111111111"})["CDK_DEFAULT_ACCOUNT"] == "111111111111"
    assert offline_environ(CALLER)["MLOPS_CONFIG"] == "mine.yaml"
    hermetic = offline_environ({**CALLER, "CDK_DEFAULT_ACCOUNT": "111111111111"}, hermetic=True)
    assert hermetic["CDK_DEFAULT_ACCOUNT"] == PLACEHOLDER_ACCOUNT
    assert "MLOPS_CONFIG" not in hermetic


def test_make_offline_changes_the_mapping_in_place() -> None:
    environ = dict(CALLER)
    make_offline(environ, hermetic=True)
    assert environ == offline_environ(CALLER, hermetic=True)


def test_the_command_runs_offline_with_its_own_exit_status() -> None:
    script = "import json, os, sys; print(json.dumps(dict(os.environ))); sys.exit(3)"
    result = subprocess.run(
        [sys.executable, "-m", "tools.offline", "--", sys.executable, "-c", script],
        cwd=REPO_ROOT, env=CALLER, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout).items() >= offline_environ(CALLER).items()
    assert "AWS_SECRET_ACCESS_KEY" not in json.loads(result.stdout)


def test_a_missing_command_is_reported() -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "tools.offline", "no-such-command-here"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 127
    assert "no-such-command-here" in missing.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "tools.offline"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert "usage" in usage.stderr
