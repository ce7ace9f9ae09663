"""Run a SageMaker Pipeline *definition* (the JSON the cloud runs) on this machine: no Docker, no AWS, seconds.

A developer tool, never bundled with the step code. It follows the definition, not a fixed sequence: the step order
comes from the data dependencies of each step and ``DependsOn``; condition steps decide which of their
``IfSteps``/``ElseSteps`` run. Everything is checked before the first step starts; a problem found while running
ends the run ``Failed`` with a message that names the step and what is wrong.

One module per concern, in the order a run meets them (after the Kubeflow Pipelines SDK's ``kfp/local``):

- :mod:`~local_pipeline.cli`: the command line (``python -m local_pipeline``, ``make local-pipeline``).
- :mod:`~local_pipeline.assembly`: the definition CDK deploys, read from ``cdk.out`` with its intrinsics resolved.
- :mod:`~local_pipeline.parameters`: declared parameters and typed ``--param`` overrides.
- :mod:`~local_pipeline.expressions`: ``Get``, ``Std:Join``, ``Std:JsonGet``, property and JSON paths.
- :mod:`~local_pipeline.conditions`: the conditions of a condition step.
- :mod:`~local_pipeline.plan`: step types, references, cycles, the step graph and its order.
- :mod:`~local_pipeline.runner`: the orchestrator; :mod:`~local_pipeline.execution`: the execution record.
- :mod:`~local_pipeline.executors`: one executor per step type (processing, training, condition, fail, register),
  the container stand-in (``executors.container``) and the image emulators (``executors.images``).
- :mod:`~local_pipeline.s3`: S3 as a folder; :mod:`~local_pipeline.registry`: the file-based model registry.
- :mod:`~local_pipeline.summary`: what a run prints; :mod:`~local_pipeline.errors`: the errors, by when they happen.

Container paths, channel names, ``SM_*`` variables and property-file names come from
:mod:`sagemaker_code.steps.contract`, which the definition and the step code share.

Not emulated: step caching (``CacheConfig`` is ignored, every step runs), retries, parallel steps (steps run one at
a time), more than one instance, Pipe input mode, manifest inputs, and every other step type (Transform, Tuning,
Model, Lambda, Callback, QualityCheck, ClarifyCheck, EMR, ...), which is reported before anything runs.
"""
