"""Loaded at start-up by every process the tests start (tests/conftest.py puts this folder first on PYTHONPATH).

xgboost imports scikit-learn when it is installed, only for its scikit-learn wrappers (XGBClassifier, ...), and that
import costs ~1.5 s per process (scikit-learn, then scipy.stats). The step code uses xgboost's Booster and never
scikit-learn (tests/sagemaker_code/definition/test_bundle.py checks its imports), and the tests start a step process
dozens of times: so the tests' processes see scikit-learn as not installed. The steps run with it in the SageMaker
image and in `make local-pipeline`, where nothing is blocked.
"""

import sys

sys.modules["sklearn"] = None  # type: ignore[assignment]  # import sklearn -> ImportError, as when not installed
