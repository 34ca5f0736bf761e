"""The chart end to end on a real node, as users run it: the image built from the Dockerfile, the Pod.

One scenario in order (the tests share the release): `helm install` with the built image until the
Pod is Ready through its own probes; both examples reach Ready (Microsoft with consent through the
callback served by the Pod); JSON logs without secrets; `helm upgrade` to a new tag (the old Pod is
gone before the new one exists, no Nylas write twice); `helm uninstall` (CRDs kept, no stuck
finalizer, Nylas state as each deletion policy says); then `kubectl apply -k deploy/`. Before the
uninstall, `replicas: 2` with leader election: SIGKILL of the leader's process on the host, the
standby takes over within the Lease duration, nothing is written to Nylas twice.

Select with ``pytest -m node``. Needs root and the Debian packages of docs/development.md ("A node").
The node has no CNI: the Pod uses the host network (``node-values.yaml``) and reaches the apiserver
on loopback through KUBERNETES_SERVICE_HOST/PORT.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e import kube as k
from nylas_operator.devcluster import images, node, processes
from nylas_operator.devcluster.build import find_kubectl
from nylas_operator.devcluster.controlplane import ControlPlane, KubectlError
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator, run_emulator

# The first test's setup builds the image (minutes on a loaded 2-core machine).
pytestmark = [pytest.mark.node, pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "nylas-operator"
EXAMPLES = ROOT / "examples"
NODE_VALUES = Path(__file__).with_name("node-values.yaml")
EXAMPLE_API_URL = "http://127.0.0.1:8787"
RELEASE = "nylas-operator"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
POD_SELECTOR = "app.kubernetes.io/name=nylas-operator"


@dataclass
class Scenario:
    plane: ControlPlane
    emu: RunningEmulator
    namespace: str
    ports: dict[str, int]
    example_namespaces: dict[str, str] = field(default_factory=dict)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60.0, check: bool = True) -> str:
        return self.plane.kubectl(*args, input=input, timeout=timeout, check=check)

    def helm(self, *args: str, timeout: float = 300.0) -> str:
        cmd = [str(self.plane.binaries.helm), f"--kubeconfig={self.plane.kubeconfig}", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"helm {' '.join(args[:2])} failed: {result.stderr}"
        return result.stdout

    def pods(self) -> list[dict[str, Any]]:
        out = self.kubectl("get", "pods", "-n", self.namespace, "-l", POD_SELECTOR, "-o", "json")
        return list(json.loads(out)["items"])


def dynamic_values(scenario: Scenario, tag: str) -> dict[str, Any]:
    """What depends on this run: the image tag, free host ports, the apiserver's loopback address."""
    ports = scenario.ports
    login = [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": scenario.plane.server.rsplit(":", 1)[1]},
    ]
    return {
        "image": {"tag": tag},
        "ports": ports,
        "operator": {
            "callbackUrl": f"http://127.0.0.1:{ports['callback']}/consent/callback",
            "extraEnv": login,
        },
        # The callback is served by the consent server's Pod (host network too, its own health port).
        "consentServer": {"extraEnv": login},
    }


def load_example(example: str, emu: RunningEmulator) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((EXAMPLES / example).glob("*.yaml")):
        text = (
            path.read_text()
            .replace(EXAMPLE_API_URL, emu.url)
            .replace("scopeCacheDelay: 5m", "scopeCacheDelay: 3s")
        )
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def example_secret_values() -> set[str]:
    """Every secret value of the examples (and the lines of the Google key), for the log scan."""
    found: set[str] = set()
    for path in EXAMPLES.glob("*/secrets.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            for value in ((doc or {}).get("stringData") or {}).values():
                found.add(value.strip())
                if value.lstrip().startswith("{"):
                    key = json.loads(value)
                    found.update(v for k_, v in key.items() if k_ in ("private_key", "private_key_id"))
    return found


def spec_image(pod: dict[str, Any]) -> str:
    image: str = pod["spec"]["containers"][0]["image"]
    return image


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nylas_operator.cli", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def host_state() -> dict[str, Any]:
    """What a node changes on the machine: sysctls, kubelet's host dirs, the kubepods cgroups."""
    return {
        "sysctls": {name: (Path("/proc/sys") / name).read_text() for name in node.SYSCTLS},
        "dirs": {d: Path(d).exists() for d in node.HOST_DIRS},
        "cgroups": sorted(str(p) for p in node.CGROUP_ROOT.glob(f"*/{node.KUBEPODS}")),
    }


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
    return found


def test_cluster_up_with_node_runs_a_pod_and_down_leaves_the_host_as_it_was() -> None:
    """First in this module, before the shared node starts: only one kubelet may run per machine."""
    before = host_state()
    # Not under tmp_path: pytest's deep paths leave kubelet's unix sockets too long (check_directory).
    directory = Path(tempfile.mkdtemp(prefix="nyo-", dir="/tmp")) / "cluster"
    up = cli("up", "--with-node", "--dir", str(directory))
    try:
        assert up.returncode == 0, up.stderr
        kubectl = [str(find_kubectl()), f"--kubeconfig={directory / 'kubeconfig'}"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sandbox-only", "namespace": "default"},
            "spec": {
                "hostNetwork": True,
                "containers": [{"name": "pause", "image": images.PAUSE_IMAGE, "imagePullPolicy": "Never"}],
            },
        }
        subprocess.run(
            [*kubectl, "apply", "-f", "-"], input=json.dumps(pod), text=True, check=True, timeout=60
        )
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Ready", "pod/sandbox-only", "--timeout=90s"],
            check=True,
            timeout=100,
            capture_output=True,
        )
        assert node.other_kubelet() is not None
        # kubelet serves no one anonymously (the apiserver comes with its client certificate).
        port = yaml.safe_load(node.NodeLayout.of(directory).kubelet_config.read_text())["port"]
        # Its serving certificate is self-signed: not what is checked here.
        response = httpx.get(f"https://127.0.0.1:{port}/pods", verify=False, timeout=5)  # noqa: S501
        assert response.status_code == 401
        assert node.mounts_under(directory)  # kubelet's and the Pod's mounts
    finally:
        down = cli("down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert node.other_kubelet() is None
    assert processes_mentioning(str(directory)) == []  # no containerd, shim, kubelet, pause
    assert node.mounts_under(directory) == []
    assert not (directory / "node").exists()
    assert host_state() == before
    shutil.rmtree(directory.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def scenario(node_cluster: ControlPlane, operator_image: str) -> Iterator[Scenario]:
    config = EmulatorConfig(behaviour=Behaviour(scope_cache_delay=2.0))
    with run_emulator(config) as emu:
        callback, health, metrics, consent_health = processes.free_ports(4)
        yield Scenario(
            node_cluster,
            emu,
            namespace="nylas-system",
            ports={
                "callback": callback,
                "health": health,
                "metrics": metrics,
                "consentHealth": consent_health,
            },
        )


def test_helm_install_pod_becomes_ready_through_its_probes(scenario: Scenario) -> None:
    values = Path(scenario.plane.directory) / "values-e2e-1.yaml"
    values.write_text(yaml.safe_dump(dynamic_values(scenario, "e2e-1")))
    scenario.helm(
        "install", RELEASE, str(CHART), "-n", scenario.namespace, "--create-namespace",
        "-f", str(NODE_VALUES), "-f", str(values), "--wait", "--timeout=240s",
    )  # fmt: skip
    (pod,) = scenario.pods()
    assert is_ready(pod)
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] and status["restartCount"] == 0
    assert spec_image(pod) == "localhost/nylas-operator:e2e-1"
    spec = pod["spec"]
    assert spec["hostNetwork"] is True and spec["securityContext"]["runAsUser"] == 65532
    # The probes kubelet ran are the chart's; they answer on the host port the values chose.
    assert httpx.get(f"http://127.0.0.1:{scenario.ports['health']}/readyz", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{scenario.ports['health']}/healthz", timeout=5).status_code == 200


def test_examples_reach_ready_with_consent_through_the_pods_callback(scenario: Scenario) -> None:
    kc = scenario.kubectl
    for example, ns in (("01-google-service-account", "ex-google"), ("02-microsoft-admin-consent", "ex-ms")):
        kc("create", "namespace", ns)
        scenario.example_namespaces[example] = ns
        k.apply(kc, ns, load_example(example, scenario.emu))
    k.wait_all_ready(kc, "ex-google", "serviceaccountgrant", timeout=120)

    cred = k.eventually(
        lambda: (
            (c := k.get(kc, "ex-ms", "nylascredential", "contoso"))
            and c.get("status", {}).get("consentUrl")
            and c
        ),
        timeout=120,
        what="consent URL",
    )
    response = httpx.get(cred["status"]["consentUrl"], follow_redirects=True, timeout=10)
    # The last hop is the operator's callback, served by the Pod on the host network.
    assert response.status_code == 200, response.text
    assert response.url.port == scenario.ports["callback"] and response.url.path == "/consent/callback"
    k.wait_all_ready(kc, "ex-ms", "serviceaccountgrant", timeout=120)
    emails = {g["email"] for g in scenario.emu.grants()}
    assert {"adele@contoso.example", "megan@contoso.example"} <= emails


def test_logs_are_json_and_hold_no_secret(scenario: Scenario) -> None:
    logs = scenario.kubectl("logs", "-n", scenario.namespace, f"deployment/{RELEASE}", "--tail=-1")
    lines = [line for line in logs.splitlines() if line.strip()]
    assert lines, "no log lines"
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    for value in example_secret_values() | {scenario.emu.api_key}:
        assert value not in logs


def _writes(entries: list[Any]) -> list[Any]:
    return [e for e in entries if e.method in WRITES]


def assert_no_nylas_write_twice(journal: list[Any]) -> None:
    """Over the whole run: every grant was created once, and each example's connector once."""
    everything = _writes(journal)
    emails = [e.email for e in everything if e.path == "/v3/connect/custom"]
    assert len(emails) == len(set(emails)), emails
    connector_creates = [e for e in everything if e.method == "POST" and e.path == "/v3/connectors"]
    assert len(connector_creates) == 2, connector_creates


def test_helm_upgrade_removes_the_old_pod_before_the_new_one_acts(
    scenario: Scenario, retag_image: Callable[[str], str]
) -> None:
    retag_image("e2e-2")
    (old,) = scenario.pods()
    journal_before = scenario.emu.journal()
    seen: list[set[str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with_pods = {p["metadata"]["uid"] for p in scenario.pods()}
            seen.append(with_pods)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    values = Path(scenario.plane.directory) / "values-e2e-2.yaml"
    values.write_text(yaml.safe_dump(dynamic_values(scenario, "e2e-2")))
    try:
        scenario.helm(
            "upgrade", RELEASE, str(CHART), "-n", scenario.namespace,
            "-f", str(NODE_VALUES), "-f", str(values), "--wait", "--timeout=240s",
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join(10)
    (new,) = scenario.pods()
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    # (status.image may name either tag: e2e-2 is e2e-1 retagged, one image id.)
    assert spec_image(new) == "localhost/nylas-operator:e2e-2"
    # Recreate: no moment with both Pods (the old one had stopped before the new one was created).
    assert not [s for s in seen if {old["metadata"]["uid"], new["metadata"]["uid"]} <= s]

    # The new operator has resumed: a grant created now goes through it, and reaches Ready.
    carol = k.grant("carol", "example-workspace", "carol@example.com")
    k.apply(scenario.kubectl, "ex-google", [carol])
    k.wait_condition(scenario.kubectl, "ex-google", "serviceaccountgrant", "carol", "Ready", timeout=120)
    after = scenario.emu.journal(after=journal_before[-1].seq if journal_before else 0)
    created = [e for e in _writes(after) if e.path == "/v3/connect/custom"]
    assert [e.email for e in created] == ["carol@example.com"], [(e.method, e.path) for e in _writes(after)]
    assert_no_nylas_write_twice(scenario.emu.journal())


# Short Lease timings for the failover test, through the chart's leaderElection values.
LEASE, RENEW, RETRY = 6.0, 4.0, 1.0
OTHER_REPLICA = f"{RELEASE}-other-ports"


def lease_spec(scenario: Scenario) -> dict[str, Any]:
    out = scenario.kubectl("get", "lease", RELEASE, "-n", scenario.namespace, "-o", "json", check=False)
    return dict(json.loads(out)["spec"]) if out.strip() else {}


def readyz(port: int) -> dict[str, Any] | None:
    """The JSON of a replica's /readyz on its host port, or None while it does not answer 200."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
    except httpx.HTTPError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


def wait_standby_of(port: int, leader_identity: str, *, timeout: float, what: str) -> None:
    """Until the replica on ``port`` says on /readyz that it is a standby of ``leader_identity``."""
    k.eventually(
        lambda: (r := readyz(port)) and r.get("role") == "standby" and r.get("leader") == leader_identity,
        timeout=timeout,
        what=what,
    )


def unschedulable_for_ports(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "PodScheduled"
        and c.get("reason") == "Unschedulable"
        and "free ports" in c.get("message", "")
        for c in pod["status"].get("conditions") or []
    )


def replica_on_other_ports(template: dict[str, Any], ports: dict[str, int]) -> dict[str, Any]:
    """A Pod of the ReplicaSet's template, verbatim but for its host ports (health, metrics) and
    without the pod-template-hash label (added once the scheduler has placed it, for adoption)."""
    labels = {k_: v for k_, v in template["metadata"]["labels"].items() if k_ != "pod-template-hash"}
    spec = json.loads(json.dumps(template["spec"]))
    (container,) = spec["containers"]
    listen = {"--health-listen": "health", "--metrics-listen": "metrics"}
    args = []
    for arg in container["args"]:
        flag = arg.split("=", 1)[0]
        args.append(f"{flag}=0.0.0.0:{ports[listen[flag]]}" if flag in listen else arg)
    container["args"] = args
    for port in container["ports"]:  # with hostNetwork, hostPort is containerPort
        port["containerPort"] = port["hostPort"] = ports[port["name"]]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": OTHER_REPLICA,
            "labels": labels,
            "annotations": template["metadata"].get("annotations") or {},
        },
        "spec": spec,
    }


def operator_pid(container_id: str) -> int:
    """The operator's process on the host: in the container's cgroup, running `nylas-operator run`."""
    cid = container_id.split("://", 1)[-1]
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (
                    cid in (proc / "cgroup").read_text()
                    and b"nylas-operator\0run" in (proc / "cmdline").read_bytes()
                ):
                    found.append(int(proc.name))
    assert len(found) == 1, f"processes of container {cid}: {found}"
    return found[0]


def test_two_replicas_sigkill_of_the_leader_the_standby_takes_over(scenario: Scenario) -> None:
    """`replicas: 2` with short Lease timings; SIGKILL of the leader's process on the host.

    Both Pods use the host network, so they cannot open the same ports on this one node: the
    scheduler leaves the second Pod of the Deployment Pending ("didn't have free ports"), as it
    would on any node (on a cluster they land on different nodes). A Deployment's Pods share one
    template, so no value gives each its own port. The test therefore adds a Pod of the
    ReplicaSet's own template, changed only in its host ports, and lets the ReplicaSet adopt it in
    place of the Pending one: two replicas of the release, run by kubelet from the image.
    """
    kc = scenario.kubectl
    ns = scenario.namespace
    values = dynamic_values(scenario, "e2e-2")
    values["replicas"] = 2
    values["leaderElection"] = {
        "leaseDuration": f"{LEASE:g}s",
        "renewDeadline": f"{RENEW:g}s",
        "retryPeriod": f"{RETRY:g}s",
    }
    # Slow enough that the leader is still creating grants when it is killed.
    values["operator"].update({"nylasRate": 2, "nylasBurst": 1})
    values_file = Path(scenario.plane.directory) / "values-e2e-2-replicas.yaml"
    values_file.write_text(yaml.safe_dump(values))
    # Not --wait: the second Pod cannot start before the test gives it its own ports.
    scenario.helm(
        "upgrade", RELEASE, str(CHART), "-n", ns, "-f", str(NODE_VALUES), "-f", str(values_file),
    )  # fmt: skip
    pending = k.eventually(
        lambda: next((p for p in scenario.pods() if unschedulable_for_ports(p)), None),
        timeout=120,
        what="the second replica Pending for its host ports",
    )
    (owner,) = pending["metadata"]["ownerReferences"]
    replicaset = json.loads(kc("get", "replicaset", owner["name"], "-n", ns, "-o", "json"))
    assert replicaset["spec"]["replicas"] == 2
    template = replicaset["spec"]["template"]
    assert "--leader-elect" in template["spec"]["containers"][0]["args"]
    health, metrics = processes.free_ports(2)
    other_ports = {"health": health, "metrics": metrics}
    kc("create", "-n", ns, "-f", "-", input=json.dumps(replica_on_other_ports(template, other_ports)))
    k.eventually(
        lambda: (k.get(kc, ns, "pod", OTHER_REPLICA) or {}).get("spec", {}).get("nodeName"),
        timeout=60,
        what="the scheduler to place the Pod on other ports",
    )
    hash_label = f"pod-template-hash={template['metadata']['labels']['pod-template-hash']}"
    kc("label", "-n", ns, "pod", OTHER_REPLICA, hash_label)
    # The ReplicaSet adopts it and, one Pod too many, deletes the unscheduled one.
    kc("rollout", "status", "-n", ns, f"deployment/{RELEASE}", "--timeout=180s", timeout=200)
    pods = {p["metadata"]["name"]: p for p in scenario.pods()}
    assert len(pods) == 2 and OTHER_REPLICA in pods, sorted(pods)
    assert pending["metadata"]["name"] not in pods
    for pod in pods.values():
        assert [o["name"] for o in pod["metadata"]["ownerReferences"]] == [owner["name"]]
    health_port = {name: scenario.ports["health"] for name in pods} | {OTHER_REPLICA: health}

    # One holds the Lease; the other's /readyz says it is the standby and names the leader.
    leader_identity = k.eventually(
        lambda: next(
            (h for h in [lease_spec(scenario).get("holderIdentity") or ""] if h.split("_")[0] in pods), None
        ),
        timeout=60,
        what="a replica holding the Lease",
    )
    leader = leader_identity.rsplit("_", 1)[0]
    (standby,) = set(pods) - {leader}
    wait_standby_of(health_port[standby], leader_identity, timeout=60, what="the standby's /readyz")
    assert (readyz(health_port[leader]) or {}).get("role") == "leader"

    # Work in flight when the leader dies.
    journal_before = scenario.emu.journal()
    after_seq = journal_before[-1].seq if journal_before else 0
    before = [k.grant(f"failover-{i}", "example-workspace", f"failover-{i}@example.com") for i in range(8)]
    k.apply(kc, "ex-google", before)

    def created_by(identity: str) -> list[Any]:
        return [
            e
            for e in scenario.emu.journal(after=after_seq)
            if e.method == "POST"
            and e.path == "/v3/connect/custom"
            and f"({identity})" in (e.user_agent or "")
        ]

    k.eventually(lambda: len(created_by(leader_identity)) >= 2, timeout=60, what="the leader creating grants")
    container_id = pods[leader]["status"]["containerStatuses"][0]["containerID"]
    pid = operator_pid(container_id)
    assert f"POD_NAME={leader}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    os.kill(pid, signal.SIGKILL)
    killed = time.time()
    after = [k.grant(f"failover-{i}", "example-workspace", f"failover-{i}@example.com") for i in (8, 9)]
    k.apply(kc, "ex-google", after)

    new_identity = k.eventually(
        lambda: next(
            (h for h in [lease_spec(scenario).get("holderIdentity") or ""] if h.startswith(f"{standby}_")),
            None,
        ),
        timeout=LEASE * 3,
        what="the standby taking the Lease",
    )
    # When it took the Lease, by its own record (not when this poll saw it).
    taken = k.parse_time(lease_spec(scenario)["acquireTime"]) - killed
    # The standby saw the last renewal at most one retry after it, and tries every retry period
    # (both jittered by up to 1.2); the slack is for the apiserver on a loaded machine.
    assert LEASE - 2 * RETRY <= taken <= LEASE + 2 * 1.2 * RETRY + 2.0, f"takeover {taken:.1f}s after SIGKILL"
    k.eventually(
        lambda: (readyz(health_port[standby]) or {}).get("role") == "leader",
        timeout=60,
        what="new leader ready",
    )
    for obj in before + after:
        k.wait_condition(
            kc, "ex-google", "serviceaccountgrant", obj["metadata"]["name"], "Ready", timeout=120
        )

    journal = scenario.emu.journal(after=after_seq)
    writes = _writes(journal)
    by_new = [e for e in writes if f"({new_identity})" in (e.user_agent or "")]
    assert by_new, "the new leader wrote nothing"
    first_write = min(e.time for e in by_new) - killed
    # The grants applied after the kill were created by the new leader.
    late = {e.email for e in created_by(new_identity)}
    assert {"failover-8@example.com", "failover-9@example.com"} <= late, late
    # It also finished what the old leader had not reached (the kill interrupted work).
    interrupted = late - {"failover-8@example.com", "failover-9@example.com"}
    assert interrupted, "the old leader had created every grant before the kill"
    assert not [e for e in writes if f"({leader_identity})" in (e.user_agent or "") and e.time > killed]
    creates = Counter(e.email for e in writes if e.method == "POST" and e.path == "/v3/connect/custom")
    assert creates == Counter({f"failover-{i}@example.com": 1 for i in range(10)}), creates
    assert_no_nylas_write_twice(scenario.emu.journal())

    # The killed container is restarted by kubelet, as a standby of the new leader.
    wait_standby_of(
        health_port[leader], new_identity, timeout=120, what="the restarted replica back as standby"
    )
    restarted = k.get(kc, ns, "pod", leader)
    assert restarted is not None and restarted["status"]["containerStatuses"][0]["restartCount"] == 1
    print(
        f"failover on the node: Lease taken {taken:.1f}s, first Nylas write {first_write:.1f}s after SIGKILL;"
        f" of {len(before)} grants applied before it, {len(interrupted)} created by the new leader"
    )


def test_helm_uninstall_keeps_crds_and_nylas_state_as_the_deletion_policy_says(scenario: Scenario) -> None:
    kc = scenario.kubectl
    grants = {g["email"]: g for g in scenario.emu.grants()}
    bob = k.get(kc, "ex-google", "serviceaccountgrant", "bob")
    assert bob is not None and bob["spec"]["deletionPolicy"] == "Delete"
    # Deleted while the operator runs: the finalizers are released, nothing is left stuck.
    kc("delete", "-n", "ex-google", "serviceaccountgrant", "--all", "--wait", "--timeout=90s", timeout=120)
    assert k.items(kc, "ex-google", "serviceaccountgrant") == []
    left = {g["email"] for g in scenario.emu.grants()}
    assert "bob@example.com" not in left  # deletionPolicy: Delete
    assert {"alice@example.com", "carol@example.com"} <= left  # Orphan (the default)
    assert "bob@example.com" in grants

    scenario.helm("uninstall", RELEASE, "-n", scenario.namespace, "--wait", "--timeout=120s")
    # The Pod goes after the Deployment (garbage collection, then its graceful stop).
    k.eventually(lambda: scenario.pods() == [], timeout=90, what="the operator Pod gone")
    crds = kc("get", "crd", "-o", "name")
    for plural in ("nylasconnectors", "nylascredentials", "serviceaccountgrants"):
        assert f"{plural}.nylas-operator.io" in crds
    # The objects and their Nylas state stay: uninstalling the operator deletes nothing in Nylas.
    assert {o["metadata"]["name"] for o in k.items(kc, "ex-ms", "serviceaccountgrant")} == {"adele", "megan"}
    assert {"adele@contoso.example", "megan@contoso.example"} <= {g["email"] for g in scenario.emu.grants()}


def test_kubectl_apply_k_deploy_installs_a_working_operator(scenario: Scenario, tmp_path: Path) -> None:
    """deploy/ as generated, plus the node's overlay: the image, host network, ports, apiserver."""
    kc = scenario.kubectl
    ports = scenario.ports
    port = scenario.plane.server.rsplit(":", 1)[1]
    deploy_args = _deploy_args(ports)
    patch = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": deploy_args},
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/ports",
            "value": [
                {"name": "callback", "containerPort": ports["callback"], "protocol": "TCP"},
                {"name": "health", "containerPort": ports["health"], "protocol": "TCP"},
                {"name": "metrics", "containerPort": ports["metrics"], "protocol": "TCP"},
            ],
        },
        {"op": "add", "path": "/spec/template/spec/hostNetwork", "value": True},
        {"op": "add", "path": "/spec/template/spec/dnsPolicy", "value": "Default"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"},
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/env/-",
            "value": {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        },
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/env/-",
            "value": {"name": "KUBERNETES_SERVICE_PORT", "value": port},
        },
    ]
    privileged = [
        {
            "op": "replace",
            "path": "/metadata/labels/pod-security.kubernetes.io~1enforce",
            "value": "privileged",
        }
    ]
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize refuses absolute paths; a relative one to another kustomization is fine.
        "resources": [os.path.relpath(ROOT / "deploy", tmp_path)],
        "images": [
            {
                "name": "ghcr.io/nylas-operator/nylas-operator",
                "newName": "localhost/nylas-operator",
                "newTag": "e2e-2",
            }
        ],
        "patches": [
            {"target": {"kind": "Deployment", "name": "nylas-operator"}, "patch": yaml.safe_dump(patch)},
            # What is checked here is the operator; the consent server's Pod on this node is the
            # chart's (test_examples_reach_ready_with_consent_through_the_pods_callback). Its
            # deploy/ Pod is on the Pod network, which this node does not have.
            {
                "target": {"kind": "Deployment", "name": "nylas-operator-consent"},
                "patch": yaml.safe_dump([{"op": "replace", "path": "/spec/replicas", "value": 0}]),
            },
            # deploy/ enforces Pod Security "restricted", which forbids the host network this node needs.
            {"target": {"kind": "Namespace", "name": "nylas-operator"}, "patch": yaml.safe_dump(privileged)},
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    kc("apply", "--server-side", "--force-conflicts", "-k", str(tmp_path), timeout=120)
    try:
        try:
            kc(
                "rollout",
                "status",
                "-n",
                "nylas-operator",
                "deployment/nylas-operator",
                "--timeout=180s",
                timeout=200,
            )
        except KubectlError as exc:
            events = kc(
                "get", "events", "-n", "nylas-operator", "-o", "custom-columns=REASON:.reason,MSG:.message"
            )
            raise AssertionError(f"{exc}\n{events}") from None
        # It serves what the release left: a new grant of the Microsoft credential becomes Ready.
        lee = k.grant("lee", "contoso", "lee@contoso.example")
        k.apply(kc, "ex-ms", [lee])
        k.wait_condition(kc, "ex-ms", "serviceaccountgrant", "lee", "Ready", timeout=120)
        # With an operator running, deleting the example namespaces releases every finalizer.
        for ns in scenario.example_namespaces.values():
            kc("delete", "namespace", ns, "--wait", "--timeout=120s", timeout=150)
    finally:
        kc(
            "delete",
            "-n",
            "nylas-operator",
            "deployment/nylas-operator",
            "--wait",
            "--timeout=60s",
            check=False,
        )


def _deploy_args(ports: dict[str, int]) -> list[str]:
    text = (ROOT / "deploy" / "20-operator.yaml").read_text()
    deployment = next(
        d
        for d in yaml.safe_load_all(text)
        if d and d.get("kind") == "Deployment" and d["metadata"]["name"] == "nylas-operator"
    )
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    listen = {"--callback-listen": "callback", "--health-listen": "health", "--metrics-listen": "metrics"}
    out = []
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in listen:
            arg = f"{flag}=0.0.0.0:{ports[listen[flag]]}"
        elif flag == "--scope-cache-delay":
            arg = f"{flag}=3s"
        out.append(arg)
    out.append(f"--callback-url=http://127.0.0.1:{ports['callback']}/consent/callback")
    return out
