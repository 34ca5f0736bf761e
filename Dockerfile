# syntax=docker/dockerfile:1.7
# nylas-operator image: the operator installed from its wheel on a slim Python, run as a non-root
# numeric user, fit for a read-only root filesystem (the chart mounts an emptyDir at /tmp).
#
#   docker build -t nylas-operator:dev --build-arg GIT_COMMIT="$(git rev-parse HEAD)" .
#   docker run --rm --entrypoint nylas-operator nylas-operator:dev version
# `make release` prints the exact command, tagged with the package version.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- stage 1: build the wheel of the operator and of every dependency ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# The commit `nylas-operator version` reports, baked into the wheel (nylas_operator/BUILD_COMMIT).
ARG GIT_COMMIT=unknown
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ ./operator/
RUN printf '%s\n' "${GIT_COMMIT}" > operator/nylas_operator/BUILD_COMMIT
# Dependencies come as binary wheels (manylinux), so no compiler is needed in either stage.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip wheel --only-binary=:all: --wheel-dir /wheels /wheels/nylas_operator-*.whl

# --- stage 2: the runtime, with only the installed wheels ----------------------------------------
FROM ${PYTHON_IMAGE}
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="nylas-operator" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.description="Kubernetes operator for Nylas bulk authentication grants" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp
# The wheels are bind-mounted from the build stage: they never become a layer of this image.
# pip, setuptools and wheel go afterwards: nothing installs anything at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/nylas_operator-*.whl \
    && python -m pip uninstall --yes setuptools wheel pip \
    && rm -rf /root/.cache /tmp/*
# 65532: the conventional "nonroot" uid/gid; no entry in /etc/passwd is needed.
USER 65532:65532
WORKDIR /tmp
# callback, health (/healthz, /readyz), metrics (/metrics): the chart's defaults.
EXPOSE 8081 8080 9090
ENTRYPOINT ["nylas-operator", "run"]
CMD ["--all-namespaces"]
