# Two commands matter on a fresh clone: `make dev` (the local sandbox) and `make test` (all tests).
# Everything else is a building block of those two.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test install control-plane image lint typecheck crds chart-crds deploy-manifests release bench bench-throughput bench-settle bench-drift bench-scale bench-failover bench-secrets_memory kind-e2e clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Builds (or reuses from the cache) kube-apiserver, kube-controller-manager, etcd and helm, and for the
# node (`cluster up --with-node`, the tests marked `node`) kubelet, kube-scheduler and pause.
control-plane: install
	$(BIN)/nylas-operator cluster build --with-node

# The Dockerfile built with buildah on a stand-in Python base made from Debian packages (tests only:
# the Dockerfile's own base is the official python slim image). CLUSTER_DIR=D also loads it into the
# node of `nylas-operator cluster up --with-node --dir D`. Needs buildah, mmdebstrap (docs/development.md).
IMAGE_TAG ?= dev
image: install
	$(BIN)/nylas-operator cluster image --tag $(IMAGE_TAG) $(if $(CLUSTER_DIR),--dir $(CLUSTER_DIR))

dev: install control-plane
	$(BIN)/nylas-operator dev

test: install control-plane
	$(BIN)/ruff check operator tests bench charts/generate.py hack/release.py
	$(BIN)/ruff format --check operator tests bench charts/generate.py hack/release.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check operator tests bench charts/generate.py hack/release.py
	$(BIN)/ruff format --check operator tests bench charts/generate.py hack/release.py

typecheck: install
	$(BIN)/mypy

# Regenerate everything derived from the models: crds/, the chart's CRD templates, deploy/.
crds: install
	$(BIN)/python -m nylas_operator.api.crds --write crds/
	$(BIN)/python charts/generate.py crds

deploy-manifests: crds control-plane
	$(BIN)/python charts/generate.py deploy

# dist/: the wheel (with the git commit baked in) and the chart package, one version from
# pyproject.toml (checked against Chart.yaml and CHANGELOG.md); prints the image build command.
# IMAGE=registry/repo changes the image; RELEASE_ARGS=--build-image runs it. See docs/release.md.
IMAGE ?= ghcr.io/nylas-operator/nylas-operator
release: install control-plane
	$(BIN)/python hack/release.py --image $(IMAGE) $(RELEASE_ARGS)

# Benchmarks print figures and PASS/FAIL against the targets (docs/performance.md); not timed tests.
bench-throughput bench-settle bench-drift bench-scale bench-failover bench-secrets_memory: install control-plane
	$(BIN)/python -m bench.$(@:bench-%=%) $(BENCH_ARGS)

bench: bench-throughput bench-settle bench-drift bench-scale bench-failover bench-secrets_memory

# For users with Docker only (kind cluster, image load, helm install, examples to Ready).
# Not run in this repository's CI: no Docker engine there. See hack/kind-e2e.sh.
kind-e2e:
	hack/kind-e2e.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
