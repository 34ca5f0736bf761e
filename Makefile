# Two commands matter on a fresh clone: `make dev` (the local sandbox) and `make test` (all tests).
# Everything else is a building block of those two.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test install control-plane lint typecheck crds chart-crds deploy-manifests bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Builds (or reuses from the cache) kube-apiserver, kube-controller-manager, etcd and helm.
control-plane: install
	$(BIN)/nylas-operator cluster build

dev: install control-plane
	$(BIN)/nylas-operator dev

test: install control-plane
	$(BIN)/ruff check operator tests bench charts/generate.py
	$(BIN)/ruff format --check operator tests bench charts/generate.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check operator tests bench charts/generate.py
	$(BIN)/ruff format --check operator tests bench charts/generate.py

typecheck: install
	$(BIN)/mypy

# Regenerate everything derived from the models: crds/, the chart's CRD templates, deploy/.
crds: install
	$(BIN)/python -m nylas_operator.api.crds --write crds/
	$(BIN)/python charts/generate.py crds

deploy-manifests: crds control-plane
	$(BIN)/python charts/generate.py deploy

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
