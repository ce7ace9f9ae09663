"""sagemaker_code/steps"""
