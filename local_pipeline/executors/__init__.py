"""One executor per step type (``Processing``, ``Training``, ``Condition``, ``Fail``, ``RegisterModel``), each behind
the small interface of :class:`local_pipeline.executors.base.Executor`; :mod:`local_pipeline.runner` dispatches to
them by the step's ``Type``. The container stand-in they share is :mod:`~local_pipeline.executors.container` (paths,
processes, archives) and :mod:`~local_pipeline.executors.images` (which images the runner can stand in for, and how).
"""
