"""The chart and deploy/ against the real apiserver: dry runs, install/upgrade, RBAC, Pod Security.

No kubelet runs here, so pods never start: these tests check what the apiserver accepts and
authorizes, and what Helm records, not that the operator runs.
"""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_tools import ROOT, Cluster, by_kind, dump_all, render
from test_chart_render import VALUE_SETS

from unit.argocd.argocd_lua import evaluate

pytestmark = pytest.mark.cluster

CRD_NAMES = [
    "nylasconnectors.nylas-operator.io",
    "nylascredentials.nylas-operator.io",
    "serviceaccountgrants.nylas-operator.io",
]
CANARY = "nylas-operator-canary"
HELM_OWNERSHIP = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")
# The 0.1.0 chart (before the values of issue 14): what an upgrade starts from.
CHART_0_1_0 = "babfc2b0687b8a7cae7337b4e72b9aafc83c4b50"


def _stub_crd(group: str, kind: str, plural: str) -> dict[str, Any]:
    """Just enough of another project's CRD for the apiserver to accept the chart's object of it."""
    metadata: dict[str, Any] = {"name": f"{plural}.{group}"}
    if group.endswith(".k8s.io"):  # a protected group: the Gateway API's CRDs carry the approval
        metadata["annotations"] = {
            "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api"
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    },
                }
            ],
        },
    }


# The Prometheus operator's and the Gateway API's kinds the chart can render.
FOREIGN_CRDS = [
    _stub_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
    _stub_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules"),
    _stub_crd("gateway.networking.k8s.io", "HTTPRoute", "httproutes"),
]


def _suffix() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def namespaces(cluster: Cluster) -> Iterator[Any]:
    """Creates namespaces on demand (restricted Pod Security warnings on) and deletes them after."""
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}-{_suffix()}"
        cluster.kubectl("create", "namespace", name)
        cluster.kubectl(
            "label",
            "namespace",
            name,
            "pod-security.kubernetes.io/warn=restricted",
            "pod-security.kubernetes.io/enforce=restricted",
        )
        made.append(name)
        return name

    yield make
    for name in made:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def foreign_crds(cluster: Cluster) -> Iterator[None]:
    made = []
    for crd in FOREIGN_CRDS:
        name = crd["metadata"]["name"]
        if cluster.kubectl("get", "crd", name, check=False).returncode != 0:
            cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(crd))
            made.append(name)
    for name in made:
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
    yield
    for name in made:
        cluster.kubectl("delete", "crd", name, "--wait=false", check=False)


def _delete_rendered(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    rest = [o for o in objects if o["kind"] != "CustomResourceDefinition"]  # shared with other tests
    if rest:
        cluster.kubectl(
            "delete", "--ignore-not-found", "--wait=false", "-f", "-", input=dump_all(rest), check=False
        )


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_is_accepted_by_the_apiserver(
    name: str, cluster: Cluster, namespaces: Any, foreign_crds: None, tmp_path: Path
) -> None:
    values = copy.deepcopy(VALUE_SETS[name])
    if "watchNamespaces" in values:
        values["watchNamespaces"] = [namespaces("watched"), namespaces("watched")]
    monitoring = values.get("metrics", {})
    for part in ("serviceMonitor", "prometheusRule", "grafanaDashboard"):
        if monitoring.get(part, {}).get("namespace"):
            monitoring[part]["namespace"] = namespaces("mon")
    release = f"dry-{_suffix()}"
    objects = render(values, tmp_path, release=release, namespace=namespaces("op"))
    result = cluster.kubectl(
        "apply",
        "--dry-run=server",
        "--server-side",
        "--force-conflicts",
        "--field-manager=chart-test",
        "-f",
        "-",
        input=dump_all(objects),
    )
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(objects), result.stdout
    # Namespaces warn on "restricted": a Deployment that a restricted namespace would refuse to
    # run makes the apiserver say so even on a dry run.
    assert "PodSecurity" not in result.stderr, result.stderr


def test_pod_security_warning_is_real(cluster: Cluster, namespaces: Any, tmp_path: Path) -> None:
    # Control for the test above: a container that may escalate privileges draws the warning.
    loose = {
        "securityContext": {
            "allowPrivilegeEscalation": True,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
    }
    objects = render(loose, tmp_path, release=f"loose-{_suffix()}", namespace=namespaces("op"))
    deploy = by_kind(objects, "Deployment")
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=dump_all(deploy))
    assert 'would violate PodSecurity "restricted:latest"' in result.stderr
    assert "allowPrivilegeEscalation" in result.stderr


def _helm_status(cluster: Cluster, release: str, namespace: str) -> dict[str, Any]:
    return json.loads(cluster.helm("status", release, "-n", namespace, "-o", "json").stdout)


def _args(cluster: Cluster, release: str, namespace: str) -> list[str]:
    deploy = json.loads(cluster.kubectl("get", "deployment", release, "-n", namespace, "-o", "json").stdout)
    return deploy["spec"]["template"]["spec"]["containers"][0]["args"]


def test_helm_install_then_upgrade_then_uninstall_keeps_the_crds(
    cluster: Cluster, namespaces: Any, tmp_path: Path
) -> None:
    ns = namespaces("rel")
    release = f"nylas-operator-{_suffix()}"  # contains the chart name: fullname == release
    # The session installed the CRDs already: hand them to this release the way Helm adopts
    # existing objects (its ownership label and annotations), and take them back afterwards.
    for crd in CRD_NAMES:
        cluster.kubectl("label", "crd", crd, "app.kubernetes.io/managed-by=Helm", "--overwrite")
        cluster.kubectl(
            "annotate",
            "crd",
            crd,
            f"{HELM_OWNERSHIP[0]}={release}",
            f"{HELM_OWNERSHIP[1]}={ns}",
            "--overwrite",
        )
    chart = str(ROOT / "charts" / "nylas-operator")
    try:
        cluster.helm("install", release, chart, "-n", ns, "--set", "crds.keep=true")
        status = _helm_status(cluster, release, ns)
        assert status["info"]["status"] == "deployed" and status["version"] == 1
        assert "kubectl get nylascredentials -A -o wide" in status["info"]["notes"]
        assert "--all-namespaces" in _args(cluster, release, ns)
        cluster.kubectl("get", "serviceaccount", release, "-n", ns)
        cluster.kubectl("get", "clusterrole", release)
        cluster.kubectl("get", "service", release, f"{release}-metrics", "-n", ns)
        crd = json.loads(cluster.kubectl("get", "crd", CRD_NAMES[0], "-o", "json").stdout)
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == release

        watched = namespaces("team")
        cluster.helm(
            "upgrade",
            release,
            chart,
            "-n",
            ns,
            "--reset-then-reuse-values",
            "--set",
            f"watchNamespaces={{{watched}}}",
            "--set",
            "metrics.enabled=false",
            "--set",
            "operator.callbackUrl=https://cb.example.com/consent/callback",
        )
        status = _helm_status(cluster, release, ns)
        assert status["info"]["status"] == "deployed" and status["version"] == 2
        args = _args(cluster, release, ns)
        assert f"--namespace={watched}" in args and "--all-namespaces" not in args
        assert "--callback-url=https://cb.example.com/consent/callback" in args
        assert cluster.kubectl("get", "clusterrole", release, check=False).returncode != 0
        cluster.kubectl("get", "role", release, "-n", watched)
        assert cluster.kubectl("get", "service", f"{release}-metrics", "-n", ns, check=False).returncode != 0
    finally:
        cluster.helm("uninstall", release, "-n", ns, "--wait=false", check=False)
        for crd in CRD_NAMES:
            cluster.kubectl("annotate", "crd", crd, *(f"{k}-" for k in HELM_OWNERSHIP), check=False)
    # helm.sh/resource-policy: keep -> the CRDs (and every object of the kinds) survive.
    for crd in CRD_NAMES:
        cluster.kubectl("get", "crd", crd)
    assert cluster.kubectl("get", "clusterrole", f"{release}-scanning", check=False).returncode != 0


def _sa(release: str, ns: str) -> str:
    return f"system:serviceaccount:{ns}:{release}"


def test_rbac_matrix_all_namespaces(cluster: Cluster, namespaces: Any, tmp_path: Path) -> None:
    ns, other = namespaces("op"), namespaces("other")
    release = f"nylas-operator-rbac-{_suffix()}"
    objects = render({"crds": {"install": False}}, tmp_path, release=release, namespace=ns)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=dump_all(objects))
    try:
        sa = _sa(release, ns)
        allowed = [
            ("list", "nylasconnectors.nylas-operator.io", None),
            ("watch", "serviceaccountgrants.nylas-operator.io", None),
            ("patch", "nylascredentials.nylas-operator.io", other),
            ("update", "serviceaccountgrants.nylas-operator.io/status", other),
            ("get", "secrets", other),
            ("watch", "secrets", None),
            ("create", "secrets", other),
            ("create", "events", other),
            ("patch", "events.events.k8s.io", other),
            ("watch", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("create", "configmaps", ns),
            ("patch", f"configmaps/{CANARY}", ns),
            ("watch", f"configmaps/{CANARY}", None),
        ]
        denied = [
            ("delete", "secrets", other),
            ("delete", "serviceaccountgrants.nylas-operator.io", other),
            ("create", "nylasconnectors.nylas-operator.io", other),
            ("create", "pods", ns),
            ("get", "pods", other),
            ("create", "configmaps", other),
            ("delete", "configmaps", ns),
            ("get", "configmaps", ns),
            ("patch", "configmaps/some-other", ns),
            ("list", "configmaps", None),
            ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("patch", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("list", "namespaces", None),  # not observed in all-namespaces mode
            ("create", "rolebindings.rbac.authorization.k8s.io", other),
            ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
            ("create", "serviceaccounts/token", ns),
        ]
        _assert_matrix(cluster, sa, allowed, denied)
        _assert_canary_listing(cluster, sa, None)
    finally:
        _delete_rendered(cluster, objects)


def test_rbac_leases_only_with_leader_election(cluster: Cluster, namespaces: Any, tmp_path: Path) -> None:
    ns, other = namespaces("op"), namespaces("other")
    release = f"nylas-operator-lease-{_suffix()}"
    values = {"crds": {"install": False}, "replicas": 2}
    objects = render(values, tmp_path, release=release, namespace=ns)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=dump_all(objects))
    try:
        sa = _sa(release, ns)
        allowed = [
            ("create", "leases.coordination.k8s.io", ns),
            ("get", f"leases.coordination.k8s.io/{release}", ns),
            ("update", f"leases.coordination.k8s.io/{release}", ns),
        ]
        denied = [
            ("get", "leases.coordination.k8s.io/someone-elses", ns),
            ("update", "leases.coordination.k8s.io/someone-elses", ns),
            ("delete", f"leases.coordination.k8s.io/{release}", ns),
            ("create", "leases.coordination.k8s.io", other),
            ("list", "leases.coordination.k8s.io", None),
        ]
        _assert_matrix(cluster, sa, allowed, denied)
    finally:
        _delete_rendered(cluster, objects)
    single = render({"crds": {"install": False}}, tmp_path, release=release, namespace=ns)
    assert not [
        o for o in single if o["kind"] == "Role" and o["metadata"]["name"].endswith("-leader-election")
    ]


def test_rbac_matrix_watch_namespaces(cluster: Cluster, namespaces: Any, tmp_path: Path) -> None:
    ns, team_a, team_b, other = namespaces("op"), namespaces("a"), namespaces("b"), namespaces("other")
    release = f"nylas-operator-rbacns-{_suffix()}"
    values = {"crds": {"install": False}, "watchNamespaces": [team_a, team_b]}
    objects = render(values, tmp_path, release=release, namespace=ns)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=dump_all(objects))
    try:
        sa = _sa(release, ns)
        allowed = [
            (verb, "nylasconnectors.nylas-operator.io", team)
            for verb in ("get", "list", "watch", "patch", "update")
            for team in (team_a, team_b)
        ] + [
            ("patch", "serviceaccountgrants.nylas-operator.io/status", team_a),
            ("get", "nylascredentials.nylas-operator.io/status", team_b),
            ("get", "secrets", team_a),
            ("watch", "secrets", team_b),
            ("create", "secrets", team_a),
            ("update", "secrets", team_b),
            ("create", "events", team_a),
            ("create", "events.events.k8s.io", team_b),
            # The release namespace is not served: the canary lives in the first watched one.
            ("create", "configmaps", team_a),
            ("patch", f"configmaps/{CANARY}", team_a),
            ("watch", f"configmaps/{CANARY}", team_b),
            ("list", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("watch", "namespaces", None),
        ]
        denied = [
            # The point of namespaced mode: nothing outside the watched namespaces.
            ("get", "secrets", other),
            ("get", "secrets", ns),
            ("list", "secrets", None),
            ("list", "nylasconnectors.nylas-operator.io", None),
            ("get", "nylasconnectors.nylas-operator.io", other),
            ("create", "events", other),
            ("delete", "secrets", team_a),
            ("delete", "nylascredentials.nylas-operator.io", team_a),
            ("create", "pods", team_a),
            ("get", "configmaps", team_a),
            ("create", "configmaps", ns),
            ("create", "configmaps", team_b),
            ("watch", f"configmaps/{CANARY}", other),
            ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("create", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("delete", "namespaces", None),
            ("create", "roles.rbac.authorization.k8s.io", team_a),
        ]
        _assert_matrix(cluster, sa, allowed, denied)
        _assert_canary_listing(cluster, sa, team_b)
    finally:
        _delete_rendered(cluster, objects)


def _assert_canary_listing(cluster: Cluster, sa: str, namespace: str | None) -> None:
    """What kopf really sends: list with a metadata.name field selector passes; without, refused."""
    scope = ["-n", namespace] if namespace else ["--all-namespaces"]
    base = ["get", "configmaps", f"--as={sa}", *scope, "-o", "name"]
    named = cluster.kubectl(*base, f"--field-selector=metadata.name={CANARY}", check=False)
    assert named.returncode == 0, named.stderr
    unnamed = cluster.kubectl(*base, check=False)
    assert unnamed.returncode != 0 and "forbidden" in unnamed.stderr.lower(), unnamed.stderr


def _assert_matrix(
    cluster: Cluster,
    sa: str,
    allowed: list[tuple[str, str, str | None]],
    denied: list[tuple[str, str, str | None]],
) -> None:
    wrong = [("should be allowed", *q) for q in allowed if not cluster.can_i(sa, *q)]
    wrong += [("should be denied", *q) for q in denied if cluster.can_i(sa, *q)]
    assert not wrong, wrong


def test_deploy_dir_applies_to_the_apiserver(cluster: Cluster) -> None:
    deploy = ROOT / "deploy"
    operator_objects = [d for d in yaml.safe_load_all((deploy / "20-operator.yaml").read_text()) if d]
    assert cluster.kubectl("get", "namespace", "nylas-operator", check=False).returncode != 0, (
        "namespace nylas-operator exists already: another test owns it"
    )
    try:
        # --force-conflicts: the session's CRDs are shared, and other tests (Helm) manage some of
        # their labels; on a fresh cluster a plain `kubectl apply --server-side -k deploy/` does.
        result = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(deploy))
        assert "deployment.apps/nylas-operator serverside-applied" in result.stdout
        assert "PodSecurity" not in result.stderr  # the Namespace enforces "restricted"
        cluster.kubectl(
            "get",
            "deployment,service,serviceaccount",
            "-n",
            "nylas-operator",
            "-l",
            "app.kubernetes.io/instance=nylas-operator",
        )
        # The same files through `kubectl apply -f deploy/` (the Kustomization file is ignored).
        again = cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", str(deploy)
        )
        assert "Kustomization" not in again.stderr
        assert len([ln for ln in again.stdout.splitlines() if "(server dry run)" in ln]) == 1 + 3 + len(
            operator_objects
        )
    finally:
        cluster.kubectl(
            "delete",
            "--ignore-not-found",
            "--wait=false",
            "-f",
            str(deploy / "20-operator.yaml"),
            check=False,
        )
        cluster.kubectl(
            "delete", "namespace", "nylas-operator", "--ignore-not-found", "--wait=false", check=False
        )


def test_argocd_health_keys_merge_into_argocd_cm(cluster: Cluster, namespaces: Any, tmp_path: Path) -> None:
    # docs/argocd.md, step by step: render the ConfigMap, merge its data into argocd-cm.
    argocd, ns = namespaces("argocd"), namespaces("op")
    cluster.kubectl(
        "create", "configmap", "argocd-cm", "-n", argocd, "--from-literal=url=https://argocd.example"
    )
    release = f"nylas-operator-argo-{_suffix()}"
    values = {"crds": {"install": False}, "argocd": {"healthChecks": {"enabled": True, "namespace": argocd}}}
    objects = [o for o in render(values, tmp_path, release=release, namespace=ns) if o["kind"] == "ConfigMap"]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=dump_all(objects))
    data = cluster.kubectl(
        "get", "configmap", f"{release}-argocd-health", "-n", argocd, "-o", "jsonpath={.data}"
    )
    cluster.kubectl(
        "patch", "configmap", "argocd-cm", "-n", argocd, "--type", "merge", "-p", f'{{"data": {data.stdout}}}'
    )
    merged = json.loads(cluster.kubectl("get", "configmap", "argocd-cm", "-n", argocd, "-o", "json").stdout)[
        "data"
    ]
    assert merged["url"] == "https://argocd.example"
    for kind in ("NylasConnector", "NylasCredential", "ServiceAccountGrant"):
        script = merged[f"resource.customizations.health.nylas-operator.io_{kind}"]
        body = {
            "kind": kind,
            "metadata": {"generation": 1},
            "status": {"phase": "AwaitingConsent", "observedGeneration": 1},
        }
        assert evaluate(body, script).status == "Suspended"


def test_upgrade_from_0_1_0_needs_reset_then_reuse_values(
    cluster: Cluster, namespaces: Any, tmp_path: Path
) -> None:
    """docs/upgrade.md: --reuse-values keeps the old chart's defaults, so a new value is missing."""
    old_chart = tmp_path / "old"
    old_chart.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", CHART_0_1_0, "charts/nylas-operator"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(old_chart)], input=archive.stdout, check=True)
    ns = namespaces("upg")
    release = f"nylas-operator-upg-{_suffix()}"
    new_chart = str(ROOT / "charts" / "nylas-operator")
    try:
        cluster.helm(
            "install",
            release,
            str(old_chart / "charts" / "nylas-operator"),
            "-n",
            ns,
            "--set",
            "crds.install=false",
            "--set",
            "operator.logLevel=debug",
        )
        reused = cluster.helm("upgrade", release, new_chart, "-n", ns, "--reuse-values", check=False)
        assert reused.returncode != 0
        assert "nil pointer evaluating interface {}" in reused.stderr, reused.stderr
        cluster.helm("upgrade", release, new_chart, "-n", ns, "--reset-then-reuse-values")
        status = _helm_status(cluster, release, ns)
        # The refused upgrade failed while rendering: it left no revision behind.
        assert status["info"]["status"] == "deployed" and status["version"] == 2
        assert "--log-level=debug" in _args(cluster, release, ns)  # the user's value survived
        cluster.kubectl("get", "clusterrole", f"{release}-view", f"{release}-edit")  # new defaults apply
    finally:
        cluster.helm("uninstall", release, "-n", ns, "--wait=false", check=False)


def test_aggregated_roles_extend_the_builtin_view_and_edit_roles(
    cluster: Cluster, namespaces: Any, tmp_path: Path
) -> None:
    ns = namespaces("people")
    release = f"nylas-operator-agg-{_suffix()}"
    viewer, editor = f"viewer-{_suffix()}", f"editor-{_suffix()}"
    cluster.kubectl("create", "rolebinding", "viewers", "--clusterrole=view", f"--user={viewer}", "-n", ns)
    cluster.kubectl("create", "rolebinding", "editors", "--clusterrole=edit", f"--user={editor}", "-n", ns)
    grants = "serviceaccountgrants.nylas-operator.io"
    # Control: the built-in roles know nothing of the three kinds by themselves.
    assert not cluster.can_i(viewer, "list", grants, ns)
    objects = [
        o
        for o in render({"crds": {"install": False}}, tmp_path, release=release, namespace=ns)
        if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith(("-view", "-edit"))
    ]
    assert len(objects) == 2
    cluster.kubectl("apply", "--server-side", "-f", "-", input=dump_all(objects))
    try:
        # kube-controller-manager's aggregation controller copies the rules into view/edit/admin.
        deadline = time.monotonic() + 60
        while not (cluster.can_i(viewer, "list", grants, ns) and cluster.can_i(editor, "create", grants, ns)):
            assert time.monotonic() < deadline, "view/edit never gained the three kinds"
            time.sleep(0.5)
        allowed = [
            (viewer, "list", grants),
            (viewer, "watch", "nylascredentials.nylas-operator.io"),
            (editor, "get", grants),
            (editor, "create", grants),
            (editor, "patch", "nylascredentials.nylas-operator.io"),  # labels, annotations, spec
            (editor, "delete", "nylasconnectors.nylas-operator.io"),
        ]
        denied = [
            (viewer, "patch", "nylascredentials.nylas-operator.io"),
            (viewer, "delete", grants),
        ]
        wrong = [("should be allowed", *q) for q in allowed if not cluster.can_i(q[0], q[1], q[2], ns)]
        wrong += [("should be denied", *q) for q in denied if cluster.can_i(q[0], q[1], q[2], ns)]
        assert not wrong, wrong
        # Status is the operator's: not even edit may write it.
        for resource in ("nylascredentials.nylas-operator.io", grants):
            answer = cluster.kubectl(
                "auth",
                "can-i",
                "patch",
                resource,
                "--subresource=status",
                f"--as={editor}",
                "-n",
                ns,
                check=False,
            )
            assert answer.stdout.strip() == "no", (resource, answer.stdout, answer.stderr)
    finally:
        cluster.kubectl("delete", "-f", "-", "--wait=false", input=dump_all(objects), check=False)
