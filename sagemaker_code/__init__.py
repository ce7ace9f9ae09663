"""SageMaker step scripts, the pipeline definition and the local runner."""
