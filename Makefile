# The two commands of the README contract:
#   make synth  - set everything up (venv + pinned CDK CLI) and synthesize every environment offline
#   make test   - set everything up and run ruff, mypy and the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

# Offline: no credentials, no metadata service, no telemetry (tools/synth.py and tests/conftest.py set the same).
OFFLINE := env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
	AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
	CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

.PHONY: help setup synth test lint bench clean local-pipeline

# `make local-pipeline` options: the assembly, the stage whose pipeline runs, the local workspace, extra arguments
# (e.g. ARGS="--param AucThreshold=0.9" or ARGS="--input path/to/data.csv").
CDK_OUT ?= cdk.out
STAGE ?= dev
WORKSPACE ?= .local-pipeline
ARGS ?=

help:
	@echo "make synth   set up and synthesize every environment offline (summary table at the end)"
	@echo "make test    set up and run ruff, mypy and pytest"
	@echo "make local-pipeline  synthesize, then run the dev SageMaker pipeline definition locally (STAGE, ARGS)"
	@echo "make bench   benchmarks (figures go into README.md)"
	@echo "make clean   remove cdk.out and caches (keeps .venv and node_modules)"

# uv installs the pinned requirements in about a minute here (pip takes 5-7); it is installed into the venv from the
# package registry, and pip does the work when uv cannot be had.
$(PY_STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0] + " (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv || echo "uv is not available: installing with pip"
	if [ -x $(VENV)/bin/uv ]; then install="$(VENV)/bin/uv pip install --quiet --python $(PY)"; \
	else install="$(PY) -m pip install --quiet --disable-pip-version-check"; fi; \
	$$install -r requirements.txt -r requirements-dev.txt && $$install --no-deps -r requirements-nodeps.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@node -e 'const m = +process.versions.node.split(".")[0]; if (m < 20) { console.error("Node 20+ is required, found " + process.version); process.exit(1) }'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PY_STAMP) $(NODE_STAMP)

synth: setup
	$(OFFLINE) $(PY) tools/synth.py --outdir $(CDK_OUT)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint
	$(OFFLINE) $(PY) -m pytest

local-pipeline: synth
	$(OFFLINE) $(PY) -m local_pipeline --cdk-out $(CDK_OUT) --stage $(STAGE) --workspace $(WORKSPACE) $(ARGS)

bench: setup
	$(OFFLINE) $(PY) bench/synth.py
	$(OFFLINE) $(PY) bench/local_pipeline.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache bench/out reports .local-pipeline .build
