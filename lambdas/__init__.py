"""Lambda functions: one folder per function, a thin ``handler.py`` plus logic modules (see README)."""
