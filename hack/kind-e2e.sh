#!/usr/bin/env bash
# The kind path, for users with Docker: kind cluster, image build + load, helm install, and the
# examples driven to Ready against the Nylas emulator running as a sidecar of the operator pod
# (on the pod's loopback, which is what the CRD allows for an http apiUrl).
#
# It needs docker, kind, helm and kubectl on PATH. It has NOT been run in this repository's CI:
# the machines this project is built on have no Docker engine. The same behaviour is covered there
# by the tests against a locally built kube-apiserver (make test).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in docker kind helm kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: '$tool' is required on PATH" >&2; exit 2; }
done

cluster=${KIND_CLUSTER:-nylas-operator-e2e}
image=nylas-operator:kind-e2e
ns=nylas-operator

kind create cluster --name "$cluster" --wait 120s
[ -n "${KEEP_CLUSTER:-}" ] || trap 'kind delete cluster --name "$cluster"' EXIT

docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

helm install nylas-operator charts/nylas-operator -n "$ns" --create-namespace \
  --set image.repository=nylas-operator --set image.tag=kind-e2e --set image.pullPolicy=Never \
  --set operator.scopeCacheDelay=20s --set operator.logFormat=text

# The emulator as a sidecar, from the same image (it ships `nylas-operator emulator`).
kubectl -n "$ns" patch deployment nylas-operator --type=json -p '[{"op": "add",
  "path": "/spec/template/spec/containers/-", "value": {
    "name": "emulator", "image": "'"$image"'", "imagePullPolicy": "Never",
    "command": ["nylas-operator", "emulator", "--host", "127.0.0.1", "--port", "8787",
                "--consent", "auto", "--scope-cache-delay", "15"],
    "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                        "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}}}}]'
kubectl -n "$ns" rollout status deployment/nylas-operator --timeout=180s

for dir in examples/*/; do
  target="kind-e2e-$(basename "$dir")"
  kubectl create namespace "$target"
  # The examples wait 5m after consent (Microsoft's real cache); shorten it for the run.
  sed 's/scopeCacheDelay: 5m/scopeCacheDelay: 20s/' "$dir"nylas.yaml | kubectl -n "$target" apply -f -
  kubectl -n "$target" apply -f "$dir"secrets.yaml
done

# Consent by annotation (the callback is not reachable from a browser here).
kubectl -n kind-e2e-02-microsoft-admin-consent wait nycred/contoso \
  --for=jsonpath='{.status.phase}'=AwaitingConsent --timeout=180s
kubectl -n kind-e2e-02-microsoft-admin-consent annotate nycred/contoso \
  nylas-operator.io/admin-consent=granted

kubectl wait --for=condition=Ready nylasconnectors,nylascredentials,serviceaccountgrants \
  --all -A --timeout=300s
kubectl get nylas -A -o wide
echo "kind-e2e: all objects Ready"
