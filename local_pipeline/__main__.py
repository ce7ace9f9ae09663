"""``python -m local_pipeline``: run a synthesized SageMaker pipeline definition on this machine."""

from __future__ import annotations

import sys

from local_pipeline.cli import main

sys.exit(main())
