# The two commands of the README contract:
#   make synth  - set everything up (venv + pinned CDK CLI) and synthesize every environment offline
#   make test   - set everything up and run ruff, mypy and the whole test suite
#
# Python dependencies: the requirements*.in files are edited by hand (direct dependencies, pinned, with the reason);
# `make lock` resolves each into the requirements*.txt lock file of the same name (every transitive dependency
# pinned, with its hashes), and only the lock files are installed, with hashes required:
#   requirements.in         -> requirements.txt         the CDK app's runtime
#   requirements-dev.in     -> requirements-dev.txt     + tests and tools (constrained to requirements.txt's pins)
#   requirements-nodeps.in  -> requirements-nodeps.txt  installed with --no-deps (see the file)
#   requirements-train.in   -> requirements-train.txt   the delivery pipeline's Train step (CodeBuild, pip)
#   requirements-uv.in      -> requirements-uv.txt      the installer itself
# The locks are universal (any OS, Python 3.11+), so they install on a laptop as on CodeBuild.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
LOCKS := requirements.txt requirements-dev.txt requirements-nodeps.txt requirements-train.txt requirements-uv.txt

# Offline (no credentials, no metadata service, no telemetry): defined once, in tools/offline.py.
OFFLINE := $(PY) -m tools.offline
# Machines of this kind set PYTHONDONTWRITEBYTECODE=1, and uv installs without bytecode: every Python process would
# then compile aws-cdk-lib's and the SageMaker SDK's modules from source again (~4 s a synth or test worker). Here
# Python writes the bytecode of what it imports once (into .venv and __pycache__ folders, all git-ignored).
unexport PYTHONDONTWRITEBYTECODE
# mypy's cache outside the clone: type-checking aws-cdk-lib's stubs costs ~60 s of CPU when cold, so a fresh clone
# (CI) reuses what any earlier checkout on this machine cached; mypy re-checks whatever changed.
MYPY_CACHE_DIR ?= $(HOME)/.cache/mlops-platform/mypy
export MYPY_CACHE_DIR

.PHONY: help setup synth test lint bench clean local-pipeline local-monitoring local-endpoint new-dataset lock cost

# `make local-pipeline` options: the assembly, the stage whose pipeline runs, the local workspace, extra arguments
# (e.g. ARGS="--param AucThreshold=0.9" or ARGS="--input path/to/data.csv").
CDK_OUT ?= cdk.out
STAGE ?= dev
WORKSPACE ?= .local-pipeline
ARGS ?=
# `make test`: pytest workers, one per CPU (the tests that share a synthesized app run on one of them: see
# tests/shared_fixture_groups.py).
TEST_WORKERS ?= logical
# `make lock LOCK_ARGS=--upgrade` (or --upgrade-package NAME) moves transitive pins; plain `make lock` keeps them.
LOCK_ARGS ?=

help:
	@echo "make synth   set up and synthesize every environment offline (summary table at the end);"
	@echo "             another config: ARGS=\"-c config=path.yaml\""
	@echo "make test    set up and run ruff, mypy and pytest"
	@echo "make local-pipeline  run the dev SageMaker pipeline definition locally (STAGE, ARGS); synthesizes first"
	@echo "             only when the app's inputs changed since cdk.out was written"
	@echo "make local-monitoring  run prod's monitoring pipeline locally on the newest local model (MONITORED, ARGS)"
	@echo "make local-endpoint  serve the newest locally registered model on 127.0.0.1:8080 (ARGS=\"--version N --port P\")"
	@echo "make new-dataset CSV=path NAME=x  infer config/datasets/x.yaml from a CSV file (FORCE=1 overwrites)"
	@echo "make cost   idle monthly cost of each environment's endpoint (prices: tools/prices.json; ARGS=\"-c config=x.yaml\")"
	@echo "make bench   benchmarks (figures go into README.md)"
	@echo "make lock    re-resolve the requirements*.txt lock files from requirements*.in"
	@echo "make clean   remove cdk.out and caches (keeps .venv, node_modules and the local runs in .local-pipeline)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0] + " (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

# uv installs the locked requirements in about a minute with an empty cache here, ~10 s with a warm one (pip takes
# 5-7 min); it is installed into the venv from the package registry (hash-checked), and pip does the work when uv
# cannot be had. Installs never remove packages that left the locks: `rm -rf .venv` for an exact venv.
$(PY_STAMP): $(LOCKS) | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-uv.txt \
		|| echo "uv is not available: installing with pip"
	if [ -x $(UV) ]; then install="$(UV) pip install --quiet --python $(PY) --require-hashes"; \
	else install="$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes"; fi; \
	$$install -r requirements-dev.txt && $$install --no-deps -r requirements-nodeps.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@node -e 'const m = +process.versions.node.split(".")[0]; if (m < 20) { console.error("Node 20+ is required, found " + process.version); process.exit(1) }'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PY_STAMP) $(NODE_STAMP)

COMPILE = $(UV) pip compile --quiet --universal --python-version 3.11 --fork-strategy fewest --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: | $(PY)
	[ -x $(UV) ] || $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-uv.txt
	$(COMPILE) requirements-uv.in -o requirements-uv.txt
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in --constraints requirements.txt -o requirements-dev.txt
	$(COMPILE) requirements-train.in --constraints requirements-dev.txt -o requirements-train.txt
	$(COMPILE) --no-deps requirements-nodeps.in -o requirements-nodeps.txt

# Always synthesizes (the README's contract), and stamps cdk.out with a digest of the app's inputs.
# Another config: make synth ARGS="-c config=path.yaml" (or MLOPS_CONFIG=path.yaml make synth).
synth: setup
	$(OFFLINE) $(PY) -m tools.synth --outdir $(CDK_OUT) $(ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# ruff first (a second); then mypy in the background while pytest runs (a few seconds with its cache; ~60 s cold),
# so that it fills the idle gaps of the test workers instead of adding to the wall time. Both always finish; either
# fails the target. mypy's output comes after pytest's, followed by pytest's closing line again (the run's last line).
test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	mypy_log=$$(mktemp); pytest_log=$$(mktemp); $(PY) -m mypy >"$$mypy_log" 2>&1 & mypy=$$!; \
	tests=0; $(OFFLINE) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $$([ -t 1 ] && echo --color=yes) \
		| tee "$$pytest_log" || tests=$$?; \
	types=0; wait $$mypy || types=$$?; cat "$$mypy_log"; \
	if [ $$types -ne 0 ]; then echo "mypy failed (exit $$types)"; fi; \
	tail -n 1 "$$pytest_log"; rm -f "$$mypy_log" "$$pytest_log"; \
	exit $$(( tests != 0 ? tests : types ))

# Re-synthesizes only when the app's inputs changed since cdk.out was written (tools/synth.py --if-changed).
local-pipeline: setup
	$(OFFLINE) $(PY) -m tools.synth --if-changed --exclude $(WORKSPACE) --outdir $(CDK_OUT)
	$(OFFLINE) $(PY) -m local_pipeline --cdk-out $(CDK_OUT) --stage $(STAGE) --workspace $(WORKSPACE) $(ARGS)

# Run a monitored environment's monitoring pipeline (MONITORED, default prod) here on the workspace: makes the newest
# local version live there, says where captured traffic and ground truth go, runs the job, prints its report.
MONITORED ?= prod
local-monitoring: setup
	$(OFFLINE) $(PY) -m tools.synth --if-changed --exclude $(WORKSPACE) --outdir $(CDK_OUT)
	$(OFFLINE) $(PY) -m tools.local_monitoring --cdk-out $(CDK_OUT) --stage $(MONITORED) --workspace $(WORKSPACE) $(ARGS)

# Serve a version of the local model registry (WORKSPACE/registry, written by local-pipeline) on 127.0.0.1 with
# SageMaker's container contract and the package's own inference handlers (local_endpoint/); Ctrl-C stops it.
local-endpoint: setup
	$(PY) -m local_endpoint --workspace $(WORKSPACE) $(ARGS)

# Infer a dataset spec from a CSV file (tools/new_dataset.py): config/datasets/$(NAME).yaml, kept unless FORCE=1.
new-dataset: $(PY_STAMP)
	$(PY) -m tools.new_dataset "$(CSV)" --name "$(NAME)" $(if $(FORCE),--force)

# Idle monthly cost of each environment's endpoint (tools/cost.py): from the config and the dated price table
# tools/prices.json; a price the table lacks fails naming it. Another config: make cost ARGS="-c config=path.yaml".
cost: $(PY_STAMP)
	$(PY) -m tools.cost $(ARGS)

# Set-up and test wall from a fresh clone of the committed work (bench/clean_clone.py), the synth ratio, the local run.
bench: setup
	$(PY) -m bench.clean_clone
	$(OFFLINE) $(PY) -m bench.synth
	$(OFFLINE) $(PY) -m bench.local_pipeline
	$(OFFLINE) $(PY) -m bench.monitoring_job
	$(OFFLINE) $(PY) bench/retraining_handler.py

# Build outputs and caches only. Local runs are never removed: .local-pipeline (or WORKSPACE) holds the run history
# (executions/<id>/: step folders and logs), the local S3 the registered models point into (s3/) and the local model
# registry (registry/<group>/version-NNNN.json); delete it yourself when you mean to (rm -rf .local-pipeline).
clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache bench/out reports .build
	@if [ -d "$(WORKSPACE)" ]; then echo "kept $(WORKSPACE)/ (local runs and the local model registry): rm -rf $(WORKSPACE) to delete them"; fi
