"""The chart rendered with several value sets (`helm lint`, `helm template`): structure and drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_tools import CHART, ROOT, by_kind, container, helm_path, load_generator, one, render, run, template

CANARY_RULE = {
    "apiGroups": [""],
    "resources": ["configmaps"],
    "resourceNames": ["nylas-operator-canary"],
    "verbs": ["get", "list", "watch", "patch"],
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "exposed": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "nylas.example.com",
            "tls": {"enabled": True, "secretName": "nylas-tls"},
        },
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
        "networkPolicy": {
            "enabled": True,
            "callbackFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}],
        },
        "argocd": {"healthChecks": {"enabled": True}},
    },
    "replicated": {"replicas": 2, "leaderElection": {"leaseDuration": "30s", "renewDeadline": "20s"}},
    "minimal": {
        "crds": {"install": False},
        "metrics": {"enabled": False, "serviceMonitor": {"enabled": True}},
        "rbac": {"clusterScanning": False},
    },
}
CLUSTER_SCOPED = {
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
# Rendered by default beside the operator's own roles (test_chart_security.py checks them).
CONSENT_CLUSTER_ROLES = {"nylas-operator-consent", "nylas-operator-consent-approver"}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint(name: str, tmp_path: Path) -> None:
    vf = tmp_path / "v.yaml"
    vf.write_text(yaml.safe_dump(VALUE_SETS[name]))
    result = run([str(helm_path()), "lint", "--strict", str(CHART), "-f", str(vf)])
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_namespaced_object_names_its_namespace(name: str, tmp_path: Path) -> None:
    objects = render(VALUE_SETS[name], tmp_path, namespace="ops")
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], obj["kind"]
        elif obj["kind"] in ("Role", "RoleBinding"):
            assert obj["metadata"]["namespace"] in ("ops", *VALUE_SETS[name].get("watchNamespaces", []))
        else:
            assert obj["metadata"]["namespace"] == "ops", obj["kind"]


def test_default_deployment_is_one_restricted_recreated_replica(tmp_path: Path) -> None:
    objects = render({}, tmp_path)
    deploy = one(objects, "Deployment", "nylas-operator")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(objects)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert c["args"] == [
        "--all-namespaces",
        "--health-listen=0.0.0.0:8080",
        "--metrics-listen=0.0.0.0:9090",
        "--log-level=info",
        "--log-format=json",
        "--scope-cache-delay=5m",
        "--drift-interval=30m",
        "--nylas-rate=50",
        "--nylas-burst=10",
        "--nylas-allowed-hosts=api.us.nylas.com,api.eu.nylas.com,localhost,127.0.0.0/8,::1",
        "--max-concurrent-reconciles=1000",
        "--canary-namespace=nylas-operator",
        "--canary-interval=60s",
        "--canary-deadline=30s",
    ]
    assert c["image"] == "ghcr.io/nylas-operator/nylas-operator:0.1.0"
    # Nothing public on the operator: the callback Service selects the consent server's pods.
    assert {p["name"] for p in c["ports"]} == {"health", "metrics"}
    callback = one(objects, "Service", "nylas-operator")["spec"]
    assert callback["ports"][0]["targetPort"] == "callback"
    consent_pod = one(objects, "Deployment", "nylas-operator-consent")["spec"]["template"]["metadata"]
    assert callback["selector"].items() <= consent_pod["labels"].items()
    assert not callback["selector"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    assert one(objects, "Service", "nylas-operator-metrics")["spec"]["ports"][0]["targetPort"] == "metrics"
    for absent in ("Ingress", "ServiceMonitor", "NetworkPolicy", "ConfigMap"):
        assert not by_kind(objects, absent), absent


def test_default_pod_is_on_the_pod_network_with_only_its_tmp_volume(tmp_path: Path) -> None:
    objects = render({}, tmp_path)
    pod = one(objects, "Deployment", "nylas-operator")["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod and "dnsPolicy" not in pod
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    assert [m["name"] for m in container(objects)["volumeMounts"]] == ["tmp"]


def test_host_network_defaults_dns_policy_to_cluster_first_with_host_net(tmp_path: Path) -> None:
    pod = one(render({"hostNetwork": True}, tmp_path), "Deployment", "nylas-operator")["spec"]["template"][
        "spec"
    ]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"


def test_explicit_dns_policy_wins(tmp_path: Path) -> None:
    values = {"hostNetwork": True, "dnsPolicy": "Default"}
    pod = one(render(values, tmp_path), "Deployment", "nylas-operator")["spec"]["template"]["spec"]
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "Default")
    pod = one(render({"dnsPolicy": "None"}, tmp_path), "Deployment", "nylas-operator")["spec"]["template"][
        "spec"
    ]
    assert "hostNetwork" not in pod and pod["dnsPolicy"] == "None"


def test_extra_volumes_and_mounts_come_after_tmp(tmp_path: Path) -> None:
    volume = {"name": "ca", "configMap": {"name": "corp-ca"}}
    mount = {"name": "ca", "mountPath": "/etc/corp-ca", "readOnly": True}
    objects = render({"extraVolumes": [volume], "extraVolumeMounts": [mount]}, tmp_path)
    pod = one(objects, "Deployment", "nylas-operator")["spec"]["template"]["spec"]
    assert pod["volumes"][1:] == [volume]
    assert container(objects)["volumeMounts"][1:] == [mount]


def test_two_replicas_elect_a_leader_through_a_lease_of_their_own(tmp_path: Path) -> None:
    objects = render(VALUE_SETS["replicated"], tmp_path, namespace="ops")
    deploy = one(objects, "Deployment", "nylas-operator")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}  # old Pods gone before new ones act
    args = container(objects)["args"]
    for arg in (
        "--leader-elect",
        "--leader-election-namespace=ops",
        "--leader-election-name=nylas-operator",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=2s",
    ):
        assert arg in args
    env = {e["name"]: e for e in container(objects)["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # the identity
    role = one(objects, "Role", "nylas-operator-leader-election")
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["nylas-operator"],
            "verbs": ["get", "update"],
        },
    ]
    binding = one(objects, "RoleBinding", "nylas-operator-leader-election")
    assert binding["roleRef"]["name"] == "nylas-operator-leader-election"


def test_one_replica_has_no_leader_election_unless_asked(tmp_path: Path) -> None:
    plain = render({}, tmp_path)
    assert not [a for a in container(plain)["args"] if a.startswith("--leader")]
    assert not [r for r in by_kind(plain, "Role") if r["metadata"]["name"].endswith("leader-election")]
    asked = render({"leaderElection": {"enabled": True}}, tmp_path)
    assert one(asked, "Deployment", "nylas-operator")["spec"]["replicas"] == 1
    assert "--leader-elect" in container(asked)["args"]


def test_default_rbac_is_one_cluster_role_plus_the_own_namespace(tmp_path: Path) -> None:
    objects = render({}, tmp_path)
    roles = {o["metadata"]["name"]: o for o in by_kind(objects, "ClusterRole")}
    assert set(roles) == {"nylas-operator", "nylas-operator-scanning", *CONSENT_CLUSTER_ROLES}
    scanning = roles["nylas-operator-scanning"]["rules"]
    # kopf observes namespaces only when it serves a list of them: not in all-namespaces mode.
    assert scanning == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    for rule in roles["nylas-operator"]["rules"]:
        assert "delete" not in rule["verbs"] and "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
    # The liveness canary: create in the release namespace; every other verb only by its name.
    (canary_role,) = by_kind(objects, "Role")
    assert (canary_role["metadata"]["name"], canary_role["metadata"]["namespace"]) == (
        "nylas-operator-canary",
        "nylas-operator",
    )
    assert canary_role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
    configmap_rules = [r for r in roles["nylas-operator"]["rules"] if "configmaps" in r["resources"]]
    assert configmap_rules == [CANARY_RULE]


def test_namespaced_mode_has_roles_per_namespace_and_nothing_broad_cluster_wide(tmp_path: Path) -> None:
    objects = render(VALUE_SETS["namespaced"], tmp_path)
    # The approver role grants nothing until bound (or aggregated into a namespace's admin).
    cluster_roles = {o["metadata"]["name"]: o for o in by_kind(objects, "ClusterRole")}
    assert set(cluster_roles) == {"nylas-operator-scanning", "nylas-operator-consent-approver"}
    assert not [b for b in by_kind(objects, "ClusterRoleBinding") if "consent" in b["roleRef"]["name"]]
    scanning = cluster_roles["nylas-operator-scanning"]
    for rule in scanning["rules"]:
        assert rule["verbs"] == ["get", "list", "watch"]
        assert rule["resources"] in (["customresourcedefinitions"], ["namespaces"])
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in by_kind(objects, "Role")}
    # The release namespace is not served: the canary lives in the first watched namespace.
    assert roles == {
        ("team-a", "nylas-operator"),
        ("team-b", "nylas-operator"),
        ("team-a", "nylas-operator-canary"),
        ("team-a", "nylas-operator-consent"),
        ("team-b", "nylas-operator-consent"),
    }
    assert len(by_kind(objects, "RoleBinding")) == 5
    for role in by_kind(objects, "Role"):
        if role["metadata"]["name"] == "nylas-operator":
            assert CANARY_RULE in role["rules"]
    args = container(objects)["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args
    assert "--all-namespaces" not in args
    assert "--canary-namespace=team-a" in args


def test_canary_lives_in_the_release_namespace_when_served_and_can_be_disabled(tmp_path: Path) -> None:
    served = render({"watchNamespaces": ["team-a", "nylas-operator"]}, tmp_path)
    assert "--canary-namespace=nylas-operator" in container(served)["args"]
    off = render({"operator": {"canary": {"enabled": False}}}, tmp_path)
    assert "--no-canary" in container(off)["args"]
    assert not by_kind(off, "Role")
    assert not [r for o in by_kind(off, "ClusterRole") for r in o["rules"] if "configmaps" in r["resources"]]


def test_exposed_set_renders_ingress_callback_url_monitoring_and_argocd(tmp_path: Path) -> None:
    objects = render(VALUE_SETS["exposed"], tmp_path)
    ingress = one(objects, "Ingress")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["nylas.example.com"], "secretName": "nylas-tls"}]
    (rule,) = ingress["rules"]
    assert rule["host"] == "nylas.example.com"
    assert rule["http"]["paths"][0]["path"] == "/consent"
    assert "--callback-url=https://nylas.example.com/consent/callback" in container(objects)["args"]
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    metrics_svc = one(objects, "Service", "nylas-operator-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics_svc["metadata"]["labels"].items()
    # The callback's peers reach only the consent server; the operator accepts only scrapes.
    policy = one(objects, "NetworkPolicy", "nylas-operator-consent")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        {
            "ports": [{"port": "callback", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}],
        }
    ]
    operator_policy = one(objects, "NetworkPolicy", "nylas-operator")["spec"]
    assert [rule["ports"] for rule in operator_policy["ingress"]] == [
        [{"port": "metrics", "protocol": "TCP"}]
    ]
    health = one(objects, "ConfigMap", "nylas-operator-argocd-health")["data"]
    lua = (CHART / "files" / "argocd" / "health.lua").read_text()
    for kind in ("NylasConnector", "NylasCredential", "ServiceAccountGrant"):
        assert health[f"resource.customizations.health.nylas-operator.io_{kind}"].strip() == lua.strip()


def test_explicit_callback_url_wins(tmp_path: Path) -> None:
    objects = render({"operator": {"callbackUrl": "https://cb.example.com/consent/callback"}}, tmp_path)
    assert "--callback-url=https://cb.example.com/consent/callback" in container(objects)["args"]
    assert "--register-callback-url" not in container(objects)["args"]


def test_registering_the_callback_url_is_opt_in(tmp_path: Path) -> None:
    values = {
        "operator": {"callbackUrl": "https://cb.example.com/consent/callback", "registerCallbackUrl": True}
    }
    assert "--register-callback-url" in container(render(values, tmp_path))["args"]
    # Without a callback URL there is nothing to register.
    assert (
        "--register-callback-url"
        not in container(render({"operator": {"registerCallbackUrl": True}}, tmp_path))["args"]
    )


def test_minimal_set_renders_no_crds_no_metrics_and_no_cluster_scope(tmp_path: Path) -> None:
    objects = render(VALUE_SETS["minimal"], tmp_path)
    for absent in ("CustomResourceDefinition", "ServiceMonitor"):
        assert not by_kind(objects, absent)
    assert [o["metadata"]["name"] for o in by_kind(objects, "Service")] == ["nylas-operator"]
    assert not any(a.startswith("--metrics-listen") for a in container(objects)["args"])
    names = {o["metadata"]["name"] for o in by_kind(objects, "ClusterRole")}
    assert names == {"nylas-operator", *CONSENT_CLUSTER_ROLES}


def test_crds_are_kept_on_uninstall_unless_told_otherwise(tmp_path: Path) -> None:
    kept = by_kind(render({}, tmp_path), "CustomResourceDefinition")
    assert len(kept) == 3
    assert all(c["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for c in kept)
    dropped = by_kind(render({"crds": {"keep": False}}, tmp_path), "CustomResourceDefinition")
    assert len(dropped) == 3
    assert all("annotations" not in c["metadata"] for c in dropped)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"bogus": 1}, "additional properties 'bogus' not allowed"),
        ({"operator": {"logFormat": "xml"}}, "logFormat"),
        ({"operator": {"scopeCacheDelay": "five minutes"}}, "scopeCacheDelay"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
        ({"ingress": {"tsl": {}}}, "additional properties 'tsl' not allowed"),
        ({"hostNetwork": "yes"}, "hostNetwork"),
        ({"dnsPolicy": "Cluster"}, "dnsPolicy"),
        ({"extraVolumes": [{"emptyDir": {}}]}, "name"),
        ({"extraVolumeMounts": [{"name": "ca", "mountPath": "etc/ca"}]}, "mountPath"),
        ({"replicas": 0}, "replicas"),
        ({"leaderElection": {"leaseDuration": "soon"}}, "leaseDuration"),
        ({"leaderElection": {"enable": True}}, "additional properties 'enable' not allowed"),
        (
            {"ingress": {"enabled": True, "host": "x.example.com", "tls": {"enabled": True}}},
            "secretName is required",
        ),
    ],
)
def test_bad_values_are_rejected(values: dict[str, Any], error: str, tmp_path: Path) -> None:
    result = template(values, tmp_path, check=False)
    assert result.returncode != 0
    assert error in result.stderr


def test_chart_crds_match_crds_dir() -> None:
    generator = load_generator()
    expected = generator.expected_chart_crds()
    on_disk = {p.name: p.read_text() for p in (CHART / "templates" / "crds").glob("*.yaml")}
    assert on_disk == expected, "chart CRDs drifted from crds/: run `python charts/generate.py crds`"
    assert len(expected) == 3


def test_rendered_crds_equal_crds_dir_but_for_metadata(tmp_path: Path) -> None:
    rendered = {c["metadata"]["name"]: c for c in by_kind(render({}, tmp_path), "CustomResourceDefinition")}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        source = yaml.safe_load(path.read_text())
        ours = rendered.pop(source["metadata"]["name"])
        assert {k: v for k, v in ours.items() if k != "metadata"} == {
            k: v for k, v in source.items() if k != "metadata"
        }
    assert not rendered


def test_deploy_dir_matches_the_chart() -> None:
    generator = load_generator()
    expected = generator.expected_deploy()
    deploy = ROOT / "deploy"
    on_disk = {p.name: p.read_text() for p in deploy.iterdir() if p.is_file()}
    assert on_disk == expected, "deploy/ drifted from the chart: run `python charts/generate.py deploy`"


def test_the_generator_check_mode_reports_drift_and_writes_nothing(tmp_path: Path) -> None:
    generator = load_generator()
    (tmp_path / "stale.yaml").write_text("old\n")
    (tmp_path / "same.yaml").write_text("same\n")
    expected = {"same.yaml": "same\n", "new.yaml": "new\n"}
    drifted = generator.sync(expected, tmp_path, check=True, pattern="*.yaml")
    assert sorted(Path(d.split(" ")[0]).name for d in drifted) == ["new.yaml", "stale.yaml"]
    assert not (tmp_path / "new.yaml").exists() and (tmp_path / "stale.yaml").exists()
    generator.sync(expected, tmp_path, check=False, pattern="*.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.yaml", "same.yaml"]
    assert generator.sync(expected, tmp_path, check=True, pattern="*.yaml") == []
