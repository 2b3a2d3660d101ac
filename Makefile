# fedpriv developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS ?= requirements/constraints.txt
# A package index for torch and torchvision alone, e.g. https://download.pytorch.org/whl/cpu (CPU-only wheels).
TORCH_INDEX ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install install-flower test test-all test-slow sweep run report bench clean

help: ## List the targets with what they do
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

install: ## Create $(VENV) with fedpriv and its dev extra, pinned by CONSTRAINTS; CPU-only: TORCH_INDEX=https://download.pytorch.org/whl/cpu
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) --index-url $(TORCH_INDEX) torch torchvision)
	$(PY) -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev]"
	@$(PY) -c "import fedpriv, torch, torchvision; print('fedpriv', fedpriv.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__)"

install-flower: ## Like install, plus the Flower extra (fl.engine=flower, fedpriv.flower), pinned by requirements/constraints-flower.txt
	$(MAKE) install CONSTRAINTS=requirements/constraints-flower.txt
	$(PY) -m pip install --quiet -c requirements/constraints-flower.txt -e ".[dev,flower]"
	@$(PY) -c "import flwr; print('flwr', flwr.__version__)"

test: ## Run the fast test suite (no slow or GPU tests)
	$(PY) -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

test-slow: ## Run only the slow tests (long attacks on real images)
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

test-all: ## Run every test; GPU tests skip themselves without a GPU
	$(PY) -m pytest $(PYTEST_ARGS)

run: ## One trial with the default config (offline, real images, about a minute on a laptop CPU)
	$(PY) -m fedpriv.sweep

sweep: ## Example sweep: augmentation defense at five magnitudes, written under multirun/
	$(PY) -m fedpriv.sweep -m defense=augment defense.magnitude=1,3,5,7,9

report: ## Tables and figures from a sweep: make report SWEEP=multirun/<name>-<hash> (see ls multirun)
	$(PY) -m fedpriv.report $(SWEEP)

bench: ## Attack-engine benchmark (Lightning vs plain loop, batched vs sequential): make bench ROOT=<cifar10 root>
	$(PY) -m fedpriv.bench $(if $(ROOT),--root $(ROOT))

clean: ## Remove caches and test outputs (keeps $(VENV) and multirun/)
	rm -rf .pytest_cache outputs
	find . -name __pycache__ -prune -exec rm -rf {} +
