"""The offline environment, defined once: no AWS credentials, no metadata service, no telemetry.

Everything in this project runs without an AWS account: ``cdk synth``, the tests, the local pipeline, the
SageMaker-SDK definition builder. This module is the one place that says what "offline" means; the Makefile runs its
commands through it (``python -m tools.offline COMMAND...``), tools/synth.py and the benchmarks build child
environments with :func:`offline_environ`, and tests/conftest.py applies the hermetic variant to its own process.
Standard library only, so that it works before anything is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

#: Variables that would let a process reach a real AWS account: removed.
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
#: Set in every offline process: credential and config files point to nothing, no instance-metadata look-ups, no CDK
#: CLI telemetry, and no jsii end-of-life banner for Node 20 on every synth.
OFFLINE_ENV = {
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
#: Stands in for environments without an account in config (CDK needs one to synthesize cross-account references).
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_REGION = "eu-west-1"
#: Hermetic runs (the tests) also ignore the caller's config choice and default account/region: every developer and
#: CI see the same app.
HERMETIC_DROP = ("MLOPS_CONFIG",)
HERMETIC_ENV = {"CDK_DEFAULT_ACCOUNT": PLACEHOLDER_ACCOUNT, "CDK_DEFAULT_REGION": PLACEHOLDER_REGION}


def offline_environ(base: Mapping[str, str], *, hermetic: bool = False) -> dict[str, str]:
    """``base`` made offline. A caller's own CDK_DEFAULT_ACCOUNT is kept (it decides where account-less environments
    go), unless ``hermetic``, which also pins the account and region and drops MLOPS_CONFIG."""
    drop = CREDENTIAL_VARS + (HERMETIC_DROP if hermetic else ())
    env = {name: value for name, value in base.items() if name not in drop}
    env.update(OFFLINE_ENV)
    if hermetic:
        env.update(HERMETIC_ENV)
    else:
        env.setdefault("CDK_DEFAULT_ACCOUNT", PLACEHOLDER_ACCOUNT)
    return env


def make_offline(environ: MutableMapping[str, str], *, hermetic: bool = False) -> None:
    """Make ``environ`` (e.g. ``os.environ`` of a test session) offline in place."""
    wanted = offline_environ(environ, hermetic=hermetic)
    for name in [name for name in environ if name not in wanted]:
        del environ[name]
    environ.update(wanted)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.offline COMMAND [ARGS...]``: run COMMAND in the offline environment (it replaces this
    process, so its exit status and signals are the command's own)."""
    command = list(sys.argv[1:] if argv is None else argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("usage: python -m tools.offline COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        os.execvpe(command[0], command, offline_environ(os.environ))  # noqa: S606 - runs the caller's command
    except OSError as exc:
        print(f"tools.offline: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
