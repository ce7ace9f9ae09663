"""Let a step script run as a file, the way the SageMaker toolkits run it: ``python /opt/ml/code/train.py``.

The steps import each other as ``sagemaker_code.steps.<module>``. Run with ``python -m sagemaker_code.steps.<step>``
from the bundle root that just works; run as a file, the script's folder is on ``sys.path`` but the package is not
importable (the folder may be named anything, e.g. ``code``). A step script then imports this module (found as a
sibling), which registers the script's folder as the ``sagemaker_code.steps`` package under an empty
``sagemaker_code`` parent. Importing it again is harmless.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

PARENT = "sagemaker_code"
PACKAGE = f"{PARENT}.steps"


def _register_package() -> None:
    if PACKAGE in sys.modules:
        return
    folder = Path(__file__).resolve().parent
    if PARENT not in sys.modules:
        parent = types.ModuleType(PARENT, "the step code's parent package (registered by _bootstrap)")
        parent.__path__ = []
        sys.modules[PARENT] = parent
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:  # pragma: no cover - only without __init__.py next to this file
        raise ImportError(f"cannot load {folder} as the {PACKAGE} package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


_register_package()
