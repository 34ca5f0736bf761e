"""Fixtures of the chart tests: a `cluster` wrapper (helm + kubectl) over the session control plane."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from chart_tools import Cluster

# A dry-run create that the chart's consent ValidatingAdmissionPolicy refuses to the admin user:
# while it succeeds, no policy a chart test installed still guards the namespaces other tests use.
_PROBE = {
    "apiVersion": "nylas-operator.io/v1alpha1",
    "kind": "NylasCredential",
    "metadata": {
        "name": "consent-policy-probe",
        "namespace": "default",
        "annotations": {"nylas-operator.io/consent-probe": "{}"},
    },
    "spec": {
        "connectorRef": {"name": "microsoft"},
        "type": "adminconsent",
        "adminConsent": {"tenant": "common"},
    },
}


@pytest.fixture(scope="module")
def cluster(control_plane) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    yield Cluster(control_plane.kubeconfig, control_plane.binaries.kubectl)


@pytest.fixture(autouse=True)
def no_consent_policy_outlives_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The chart ships a cluster-wide ValidatingAdmissionPolicy that lets only its own consent
    server write `nylas-operator.io/consent-*` annotations. A chart test that installs it on the
    shared apiserver deletes it, but the apiserver drops it from its admission cache a moment
    later: without this wait, the next test (say, the consent server's, writing as admin) could be
    refused by a release that no longer exists."""
    yield
    if not {"cluster", "control_plane", "kubectl"} & set(request.fixturenames):
        return  # a render-only test: nothing was installed
    plane = request.getfixturevalue("control_plane")
    run = Cluster(plane.kubeconfig, plane.binaries.kubectl).kubectl
    selector = "app.kubernetes.io/name=nylas-operator"
    run("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "-l", selector,
        "--ignore-not-found", check=False)  # fmt: skip
    deadline = time.monotonic() + 60
    while (
        probe := run("create", "--dry-run=server", "-f", "-", input=json.dumps(_PROBE), check=False)
    ).returncode:
        assert "consent" in probe.stderr, probe.stderr  # refused by a policy, not by anything else
        assert time.monotonic() < deadline, f"a consent admission policy outlived its test: {probe.stderr}"
        time.sleep(0.2)
