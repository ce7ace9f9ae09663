"""Let a step script run as a file, the way the SageMaker toolkits run it: ``python /opt/ml/code/train.py``.

The steps import each other as ``sagemaker_code.<module>``. Run with ``python -m sagemaker_code.<step>`` that just
works; run as a file, the script's folder is on ``sys.path`` but the package is not importable (in the containers the
folder is named ``code``, not ``sagemaker_code``). A step script then imports this module (found as a sibling), which
registers the script's folder as the ``sagemaker_code`` package. Importing it again is harmless.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = "sagemaker_code"


def _register_package() -> None:
    if PACKAGE in sys.modules:
        return
    folder = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:  # pragma: no cover - only without __init__.py next to this file
        raise ImportError(f"cannot load {folder} as the {PACKAGE} package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


_register_package()
