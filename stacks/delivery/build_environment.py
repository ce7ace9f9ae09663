"""The CodeBuild image and runtimes every build of the delivery pipeline uses: one place to bump them."""

from __future__ import annotations

from aws_cdk import aws_codebuild as codebuild

#: Ubuntu standard 7.0. Its runtimes.yml (aws/aws-codebuild-docker-images, checked 2026-12) offers python 3.9-3.14
#: and nodejs 18, 20, 22 and 24.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
#: Node.js 24 is the active LTS line (20 reached end of life in April 2026; 22 is in maintenance until April 2027).
#: Python 3.11 is the version the project is developed and tested with (pyproject.toml, the Makefile's check).
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "24"}
#: End of life of the Node.js LTS lines (nodejs.org release schedule): a test fails once the pinned line is past it.
NODE_END_OF_LIFE = {"18": "2025-04-30", "20": "2026-04-30", "22": "2027-04-30", "24": "2028-04-30"}


def install_runtimes(*names: str) -> dict[str, object]:
    """A partial buildspec selecting the pinned runtimes ``names`` (e.g. "python", "nodejs")."""
    return {"phases": {"install": {"runtime-versions": {name: RUNTIME_VERSIONS[name] for name in names}}}}
