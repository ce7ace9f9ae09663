"""The local endpoint: a model version of the local model registry served on this machine, as SageMaker serves it.

``make local-endpoint`` (``python -m local_endpoint``) takes a version that ``make local-pipeline`` registered,
unpacks its ``model.tar.gz`` and answers SageMaker's inference container contract (``GET /ping``,
``POST /invocations`` with CSV or JSON) with the package's own handlers (``code/inference.py``: ``model_fn``,
``transform_fn``), so that a developer, and the smoke test's tests, call the model as a deployed endpoint would
answer - no Docker, no AWS. A developer tool, like ``local_pipeline``; nothing deploys it.
"""
