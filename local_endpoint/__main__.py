"""``python -m local_endpoint``: serve a locally registered model with SageMaker's container contract."""

from __future__ import annotations

import sys

from local_endpoint.cli import main

sys.exit(main())
