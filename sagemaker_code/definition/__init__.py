"""sagemaker_code/definition"""
