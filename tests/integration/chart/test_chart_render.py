"""The chart rendered with several value sets (`helm lint`, `helm template`): structure and drift."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_tools import (
    CHART,
    KINDS,
    ROOT,
    by_kind,
    container,
    helm_path,
    load_generator,
    one,
    render,
    run,
    template,
)

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
        "rbac": {"clusterScanning": False, "aggregateClusterRoles": False},
        "tests": {"enabled": False},
    },
    # Every option a platform team asks for (issue 14), at once.
    "platform": {
        "global": {"imageRegistry": "mirror.example.com"},
        "image": {"digest": "sha256:" + "a" * 64},
        "commonLabels": {"team": "identity", "cost-center": "42"},
        "deploymentAnnotations": {"reloader.stakater.com/auto": "true"},
        "deploymentLabels": {"tier": "control"},
        "service": {"annotations": {"svc": "a"}, "labels": {"svc-label": "b"}},
        "serviceAccount": {
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
            "labels": {"sa-label": "c"},
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"custom": "yes"}},
            },
        ],
        "operator": {
            "extraEnvFrom": [{"configMapRef": {"name": "corp-proxy"}}, {"secretRef": {"name": "proxy-auth"}}]
        },
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}],
            "hostnames": ["nylas.example.com"],
            "labels": {"route": "public"},
        },
        "metrics": {
            "serviceMonitor": {
                "enabled": True,
                "namespace": "monitoring",
                "honorLabels": True,
                "relabelings": [{"action": "replace", "targetLabel": "cluster", "replacement": "prod"}],
                "metricRelabelings": [
                    {"action": "drop", "sourceLabels": ["__name__"], "regex": "python_gc_.*"}
                ],
            },
            "prometheusRule": {
                "enabled": True,
                "namespace": "monitoring",
                "labels": {"release": "prom"},
                "awaitingConsentFor": "2d",
                "additionalRules": [{"alert": "Extra", "expr": "vector(1)", "for": "1m"}],
            },
            "grafanaDashboard": {"enabled": True, "namespace": "monitoring"},
        },
        "networkPolicy": {"enabled": True},
        "extraObjects": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "{{ .Release.Name }}-ca", "namespace": "{{ .Release.Namespace }}"},
                "data": {"ca.crt": "PEM"},
            },
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-string\n"
            "  namespace: {{ .Release.Namespace }}\ndata:\n  release: {{ .Release.Name | quote }}\n",
        ],
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
        elif obj["kind"] in ("ServiceMonitor", "PrometheusRule") or obj["metadata"]["name"].endswith(
            "-dashboard"
        ):
            # Where Prometheus and Grafana look, when the values say so.
            assert obj["metadata"]["namespace"] in ("ops", "monitoring"), obj["kind"]
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
        "--consent-state-ttl=1h",
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


def test_consent_server_on_the_host_network_replaces_its_pod_instead_of_surging(tmp_path: Path) -> None:
    # A surge Pod would need the port its predecessor holds on the node: it would stay Pending.
    hosted = one(render({"hostNetwork": True}, tmp_path), "Deployment", "nylas-operator-consent")["spec"]
    assert hosted["template"]["spec"]["hostNetwork"] is True
    assert hosted["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    pod_network = one(render({}, tmp_path), "Deployment", "nylas-operator-consent")["spec"]
    assert "strategy" not in pod_network


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
    # -view and -edit are for people (aggregated into view/edit/admin), bound to no one here.
    assert set(roles) == {
        "nylas-operator",
        "nylas-operator-scanning",
        "nylas-operator-view",
        "nylas-operator-edit",
        *CONSENT_CLUSTER_ROLES,
    }
    assert {o["roleRef"]["name"] for o in by_kind(objects, "ClusterRoleBinding")} == {
        "nylas-operator",
        "nylas-operator-scanning",
        "nylas-operator-consent",
    }
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
    assert {"nylas-operator-scanning", "nylas-operator-consent-approver"} <= set(cluster_roles)
    assert [o["metadata"]["name"] for o in by_kind(objects, "ClusterRoleBinding")] == [
        "nylas-operator-scanning"
    ]
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
    # Scrapes, and the `helm test` pod asking /readyz.
    assert [rule["ports"] for rule in operator_policy["ingress"]] == [
        [{"port": "metrics", "protocol": "TCP"}],
        [{"port": "health", "protocol": "TCP"}],
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


def test_microsoft_confirms_consent_only_when_asked(tmp_path: Path) -> None:
    assert not any("confirm" in a or "microsoft" in a for a in container(render({}, tmp_path))["args"])
    values = {
        "operator": {
            "confirmConsent": {
                "enabled": True,
                "loginUrl": "https://login.microsoftonline.us",
                "allowedHosts": ["login.microsoftonline.us"],
                "timeout": "30m",
            }
        }
    }
    args = container(render(values, tmp_path))["args"]
    assert args[args.index("--consent-state-ttl=1h") + 1 :][:4] == [
        "--confirm-consent",
        "--microsoft-login-url=https://login.microsoftonline.us",
        "--microsoft-allowed-hosts=login.microsoftonline.us",
        "--consent-confirm-timeout=30m",
    ]


def test_minimal_set_renders_no_crds_no_metrics_and_no_cluster_scope(tmp_path: Path) -> None:
    objects = render(VALUE_SETS["minimal"], tmp_path)
    for absent in ("CustomResourceDefinition", "ServiceMonitor"):
        assert not by_kind(objects, absent)
    assert [o["metadata"]["name"] for o in by_kind(objects, "Service")] == ["nylas-operator"]
    assert not any(a.startswith("--metrics-listen") for a in container(objects)["args"])
    names = {o["metadata"]["name"] for o in by_kind(objects, "ClusterRole")}
    assert names == {"nylas-operator", *CONSENT_CLUSTER_ROLES}
    assert not by_kind(objects, "Pod")


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
        ({"operator": {"confirmConsent": {"loginUrl": "login.microsoftonline.com"}}}, "loginUrl"),
        ({"operator": {"confirmConsent": {"enabled": "yes"}}}, "enabled"),
        ({"operator": {"confirmConsent": {"timeout": "an hour"}}}, "timeout"),
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


# --- Options platform teams ask for (issue 14) -------------------------------------------------

PLATFORM = VALUE_SETS["platform"]


def exposed_metric_names() -> set[str]:
    """Every sample name the operator's registry can serve (counters as _total, histograms as _bucket...)."""
    from nylas_operator.observability.metrics import Metrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for family in Metrics().registry.collect():
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


def referenced_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bnylas_operator_[a-z_]+", expr))


@pytest.mark.parametrize(
    ("values", "image"),
    [
        ({}, "ghcr.io/nylas-operator/nylas-operator:0.1.0"),
        (
            {"image": {"registry": "registry.example.com", "repository": "nylas-operator", "tag": "1.2.3"}},
            "registry.example.com/nylas-operator:1.2.3",
        ),
        # A pull-through mirror keeps the default repository under its own host.
        (
            {"image": {"registry": "mirror.example.com/"}},
            "mirror.example.com/ghcr.io/nylas-operator/nylas-operator:0.1.0",
        ),
        (
            {"global": {"imageRegistry": "global.example.com"}, "image": {"registry": "ignored.example.com"}},
            "global.example.com/ghcr.io/nylas-operator/nylas-operator:0.1.0",
        ),
        (
            {"image": {"tag": "9.9.9", "digest": "sha256:" + "b" * 64}},
            "ghcr.io/nylas-operator/nylas-operator@sha256:" + "b" * 64,
        ),
    ],
)
def test_image_reference(values: dict[str, Any], image: str, tmp_path: Path) -> None:
    objects = render(values, tmp_path)
    assert container(objects)["image"] == image
    # The `helm test` pod runs the same image: nothing else to mirror.
    test_pod = one(objects, "Pod")
    assert test_pod["spec"]["containers"][0]["image"] == image


def test_common_labels_are_on_every_object(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path)
    assert {o["kind"] for o in objects} >= {
        "CustomResourceDefinition",
        "Deployment",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "ServiceMonitor",
        "PrometheusRule",
        "HTTPRoute",
        "ConfigMap",
        "NetworkPolicy",
        "Pod",
    }
    for obj in objects:
        if obj["metadata"]["name"] in ("nylas-operator-ca", "as-string"):
            continue  # extraObjects are the user's own
        labels = obj["metadata"]["labels"]
        assert (labels["team"], labels["cost-center"]) == ("identity", "42"), obj["kind"]


def test_deployment_service_and_serviceaccount_metadata(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path)
    deploy = one(objects, "Deployment", "nylas-operator")
    assert deploy["metadata"]["annotations"] == {"reloader.stakater.com/auto": "true"}
    assert deploy["metadata"]["labels"]["tier"] == "control"
    # Deployment labels are not pod labels: the selector and the pods stay as they were.
    assert "tier" not in deploy["spec"]["template"]["metadata"]["labels"]
    service = one(objects, "Service", "nylas-operator")
    assert service["metadata"]["annotations"] == {"svc": "a"}
    assert service["metadata"]["labels"]["svc-label"] == "b"
    sa = one(objects, "ServiceAccount", "nylas-operator")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
    assert sa["metadata"]["labels"]["sa-label"] == "c"
    default = render({}, tmp_path)
    assert "annotations" not in one(default, "Deployment", "nylas-operator")["metadata"]


def test_topology_spread_constraints_default_to_the_operator_pods(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path)
    pod = one(objects, "Deployment", "nylas-operator")["spec"]["template"]["spec"]
    zone, host = pod["topologySpreadConstraints"]
    selector = one(objects, "Deployment", "nylas-operator")["spec"]["selector"]
    assert zone == {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": selector,
    }
    assert host["labelSelector"] == {"matchLabels": {"custom": "yes"}}  # the user's own wins
    assert (
        "topologySpreadConstraints"
        not in one(render({}, tmp_path), "Deployment", "nylas-operator")["spec"]["template"]["spec"]
    )


def test_extra_env_from(tmp_path: Path) -> None:
    c = container(render(PLATFORM, tmp_path))
    assert c["envFrom"] == [{"configMapRef": {"name": "corp-proxy"}}, {"secretRef": {"name": "proxy-auth"}}]
    assert {e["name"] for e in c["env"]} == {"POD_NAMESPACE", "POD_NAME"}
    assert "envFrom" not in container(render({}, tmp_path))


def test_service_monitor_options(tmp_path: Path) -> None:
    monitor = one(render(PLATFORM, tmp_path, namespace="ops"), "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    # It lives elsewhere but still scrapes the release namespace.
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True
    assert endpoint["relabelings"] == PLATFORM["metrics"]["serviceMonitor"]["relabelings"]
    assert endpoint["metricRelabelings"] == PLATFORM["metrics"]["serviceMonitor"]["metricRelabelings"]
    plain = one(render({"metrics": {"serviceMonitor": {"enabled": True}}}, tmp_path), "ServiceMonitor")
    assert plain["spec"]["endpoints"][0]["honorLabels"] is False
    assert "relabelings" not in plain["spec"]["endpoints"][0]


def test_prometheus_rule_alerts_on_metrics_the_operator_exposes(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path, namespace="ops")
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "prom"
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "NylasOperatorDown",
        "NylasOperatorReconcileErrors",
        "NylasOperatorAwaitingConsent",
        "NylasOperatorObjectsPending",
        "NylasOperatorObjectsFailed",
        "NylasOperatorDeletionBlocked",
        "Extra",
    }
    assert alerts["NylasOperatorAwaitingConsent"]["for"] == "2d"
    assert alerts["NylasOperatorObjectsPending"]["for"] == "1h"
    # The job Prometheus gives the scraped series is the metrics Service's name.
    metrics_service = one(objects, "Service", "nylas-operator-metrics")["metadata"]["name"]
    target = f'job="{metrics_service}", namespace="ops"'
    exposed = exposed_metric_names()
    for name, alert in alerts.items():
        if name == "Extra":
            continue
        assert target in alert["expr"], name
        assert referenced_metrics(alert["expr"]) <= exposed, (name, alert["expr"])
        assert alert["expr"].count("(") == alert["expr"].count(")"), alert["expr"]
        # Prometheus' own templates survive Helm's.
        assert "{{ $labels" in alert["annotations"]["summary"] or "$labels" not in alert["expr"]
    assert "up{" in alerts["NylasOperatorDown"]["expr"] and "absent(" in alerts["NylasOperatorDown"]["expr"]
    assert alerts["NylasOperatorReconcileErrors"]["annotations"]["summary"] == (
        "{{ $labels.kind }} reconciles keep failing with {{ $labels.reason }}"
    )
    assert alerts["NylasOperatorDeletionBlocked"]["for"] == "30m"
    assert "nylas_operator_deletions_blocked{" in alerts["NylasOperatorDeletionBlocked"]["expr"]
    waiting = alerts["NylasOperatorAwaitingConsent"]["expr"]
    assert 'phase="AwaitingConsent"' in waiting
    # Without metrics there is nothing to alert on.
    assert not by_kind(
        render({"metrics": {"enabled": False, "prometheusRule": {"enabled": True}}}, tmp_path),
        "PrometheusRule",
    )


def test_grafana_dashboard_configmap(tmp_path: Path) -> None:
    cm = one(render(PLATFORM, tmp_path), "ConfigMap", "nylas-operator-dashboard")
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["nylas-operator.json"])
    assert dashboard["uid"] == "nylas-operator"
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 8
    exposed = exposed_metric_names()
    used = set().union(*(referenced_metrics(e) for e in exprs))
    assert used <= exposed, used - exposed
    # Every metric family of the operator has a panel (a new metric needs one).
    from nylas_operator.observability.metrics import PREFIX, Metrics

    families = {f.name for f in Metrics().registry.collect() if f.name.startswith(PREFIX)}
    assert {f for f in families if f not in " ".join(exprs)} == set()


def test_httproute_exposes_only_the_callback_and_sets_the_callback_url(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path)
    route = one(objects, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["labels"]["route"] == "public"
    assert route["spec"]["parentRefs"] == PLATFORM["httpRoute"]["parentRefs"]
    assert route["spec"]["hostnames"] == ["nylas.example.com"]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/consent"}}]
    service = one(objects, "Service", "nylas-operator")
    assert rule["backendRefs"] == [{"name": "nylas-operator", "port": service["spec"]["ports"][0]["port"]}]
    assert "--callback-url=https://nylas.example.com/consent/callback" in container(objects)["args"]
    explicit = {**PLATFORM, "operator": {"callbackUrl": "https://other.example.com/consent/callback"}}
    assert (
        "--callback-url=https://other.example.com/consent/callback"
        in container(render(explicit, tmp_path))["args"]
    )


def test_extra_objects_are_templated(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path, release="rel", namespace="ops")
    ca = one(objects, "ConfigMap", "rel-ca")
    assert (ca["metadata"]["namespace"], ca["data"]) == ("ops", {"ca.crt": "PEM"})
    assert one(objects, "ConfigMap", "as-string")["data"] == {"release": "rel"}


def test_aggregated_cluster_roles_extend_view_edit_admin(tmp_path: Path) -> None:
    objects = render({}, tmp_path)
    view = one(objects, "ClusterRole", "nylas-operator-view")
    edit = one(objects, "ClusterRole", "nylas-operator-edit")
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        aggregate + "view",
        aggregate + "edit",
        aggregate + "admin",
    }
    assert {k for k in edit["metadata"]["labels"] if k.startswith(aggregate)} == {
        aggregate + "edit",
        aggregate + "admin",
    }
    for role in (view, edit):
        (rule,) = role["rules"]
        assert set(rule["resources"]) == KINDS  # never /status: status is the operator's
    assert view["rules"][0]["verbs"] == ["get", "list", "watch"]
    assert "patch" in edit["rules"][0]["verbs"] and "delete" in edit["rules"][0]["verbs"]
    off = render({"rbac": {"aggregateClusterRoles": False}}, tmp_path)
    assert not [o for o in by_kind(off, "ClusterRole") if o["metadata"]["name"].endswith(("-view", "-edit"))]


def test_helm_test_hook_asks_readyz_through_its_own_service(tmp_path: Path) -> None:
    objects = render(PLATFORM, tmp_path, namespace="ops")
    pod = one(objects, "Pod")
    service = one(objects, "Service", "nylas-operator-test-readyz")
    for hook in (pod, service):
        annotations = hook["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "test"
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert service["spec"]["ports"] == [
        {"name": "health", "port": 8080, "targetPort": "health", "protocol": "TCP"}
    ]
    deploy = one(objects, "Deployment", "nylas-operator")
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    # The test pod itself is picked by no Service of the operator.
    for svc in by_kind(objects, "Service"):
        assert not svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), svc["metadata"][
            "name"
        ]
    (c,) = pod["spec"]["containers"]
    assert c["command"][:2] == ["python", "-c"]
    assert c["command"][2] == (CHART / "files" / "tests" / "readyz.py").read_text()
    assert c["command"][3] == "http://nylas-operator-test-readyz.ops.svc:8080/readyz"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # With a NetworkPolicy, the health port is open to the test pod only.
    policy = one(objects, "NetworkPolicy", "nylas-operator")["spec"]
    health = [r for r in policy["ingress"] if r["ports"][0]["port"] == "health"]
    assert health == [
        {
            "ports": [{"port": "health", "protocol": "TCP"}],
            "from": [
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/instance": "nylas-operator",
                            "app.kubernetes.io/component": "helm-test",
                        }
                    }
                }
            ],
        }
    ]
    assert pod["metadata"]["labels"].items() >= health[0]["from"][0]["podSelector"]["matchLabels"].items()
    # --skip-tests (what deploy/ is rendered with) leaves the hook out.
    skipped = run([str(helm_path()), "template", "nylas-operator", str(CHART), "--skip-tests"]).stdout
    assert "helm.sh/hook" not in skipped


def test_deploy_dir_does_not_claim_to_be_managed_by_helm() -> None:
    for path in sorted((ROOT / "deploy").iterdir()):
        text = path.read_text()
        assert "helm.sh/" not in text, path.name
        assert "managed-by: Helm" not in text, path.name
    operator = [d for d in yaml.safe_load_all((ROOT / "deploy" / "20-operator.yaml").read_text()) if d]
    assert not by_kind(operator, "Pod")  # no `helm test` hook
    deploy = one(operator, "Deployment", "nylas-operator")
    assert deploy["metadata"]["labels"]["app.kubernetes.io/part-of"] == "nylas-operator"


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            {"httpRoute": {"enabled": True, "hostnames": ["a.example.com"]}},
            "httpRoute.parentRefs is required",
        ),
        ({"httpRoute": {"enabled": True, "parentRefs": [{"namespace": "x"}]}}, "missing property 'name'"),
        ({"httpRoute": {"hostnames": ["https://a.example.com"]}}, "hostnames"),
        ({"image": {"digest": "sha256:short"}}, "digest"),
        ({"image": {"registry": "https://registry.example.com"}}, "registry"),
        (
            {
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}
                ]
            },
            "whenUnsatisfiable",
        ),
        ({"topologySpreadConstraints": [{"topologyKey": "zone"}]}, "missing properties"),
        ({"operator": {"extraEnvFrom": [{"configMap": {"name": "x"}}]}}, "additional properties 'configMap'"),
        ({"metrics": {"prometheusRule": {"pendingFor": "an hour"}}}, "pendingFor"),
        ({"metrics": {"serviceMonitor": {"honorLabels": "yes"}}}, "honorLabels"),
        ({"commonLabels": {"n": 1}}, "commonLabels"),
        ({"extraObjects": [1]}, "extraObjects"),
        ({"tests": {"enable": True}}, "additional properties 'enable' not allowed"),
    ],
)
def test_bad_platform_values_are_rejected(values: dict[str, Any], error: str, tmp_path: Path) -> None:
    result = template(values, tmp_path, check=False)
    assert result.returncode != 0
    assert error in result.stderr, result.stderr
