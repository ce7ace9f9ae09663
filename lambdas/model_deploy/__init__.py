"""The model deploy flow's Lambda code (handler.py and its modules) and the smoke test of a deployed endpoint
(smoke_test.py, also run by ``python -m tools.smoke_test``)."""
