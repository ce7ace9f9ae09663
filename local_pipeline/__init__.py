"""local_pipeline"""
