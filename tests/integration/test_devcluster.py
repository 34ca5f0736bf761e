"""The local control plane is a real Kubernetes: readiness, GC, namespace deletion, restarts, no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nylas_operator.devcluster import controlplane, processes
from nylas_operator.devcluster.build import ensure_binaries
from nylas_operator.devcluster.controlplane import ControlPlane, KubectlError

pytestmark = pytest.mark.cluster


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def exists(plane: ControlPlane, *args: str) -> bool:
    try:
        plane.kubectl("get", *args, "-o", "name")
    except KubectlError as exc:
        if "NotFound" in exc.stderr or "not found" in exc.stderr:
            return False
        raise
    return True


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nylas_operator.cli", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_apiserver_is_ready(control_plane: ControlPlane) -> None:
    assert control_plane.kubectl("get", "--raw", "/readyz") == "ok"
    version = json.loads(control_plane.kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == "v1.34.4"


def test_cli_up_then_down_leaves_no_process(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    up = cli("up", "--dir", str(directory))
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = Path(up.stdout.strip())
        assert kubeconfig == directory / "kubeconfig"
        kubectl = ensure_binaries(build=False).kubectl
        readyz = subprocess.run(
            [str(kubectl), "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert readyz.stdout == "ok"
        started = controlplane.recorded_processes(directory)
        assert len(started) == 3
        assert all(processes.is_running(p) for p in started)
    finally:
        down = cli("down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert not [p for p in started if processes.is_running(p)]
    assert not kubeconfig.exists()
    again = cli("down", "--dir", str(directory))
    assert again.returncode == 0, again.stderr


def test_owner_reference_garbage_collection(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl("create", "configmap", "owner", "-n", namespace)
    uid = control_plane.kubectl("get", "configmap/owner", "-n", namespace, "-o", "jsonpath={.metadata.uid}")
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "namespace": namespace,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    control_plane.kubectl("create", "-f", "-", input=json.dumps(child))
    control_plane.kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_until(lambda: not exists(control_plane, "configmap", "child", "-n", namespace), 60, "GC of child")


def test_namespace_deletion_completes(control_plane: ControlPlane) -> None:
    name = f"t-delete-{os.getpid()}-{time.monotonic_ns() % 100000}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.kubectl("create", "configmap", "content", "-n", name, "--from-literal=a=b")
    control_plane.kubectl("delete", "namespace", name, "--wait=false")
    wait_until(lambda: not exists(control_plane, "namespace", name), 60, f"namespace {name} to go away")


def test_apiserver_restart_keeps_data_and_port() -> None:
    # A private control plane: restarting the shared one would disturb whatever else uses it.
    with ControlPlane(ensure_binaries(build=False)) as plane:
        directory = plane.directory
        plane.kubectl("create", "configmap", "kept", "--from-literal=answer=42")
        server = plane.server
        apiserver = plane._component("kube-apiserver").pid
        plane.restart_apiserver()
        assert plane.server == server
        assert plane._component("kube-apiserver").pid != apiserver
        assert plane.kubectl("get", "configmap", "kept", "-o", "jsonpath={.data.answer}") == "42"
        pids = controlplane.recorded_processes(directory)
    assert not directory.exists()
    assert not [p for p in pids if processes.is_running(p)]


_OWNER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from nylas_operator.devcluster.build import ensure_binaries
    from nylas_operator.devcluster.controlplane import ControlPlane, recorded_processes
    plane = ControlPlane(ensure_binaries(build=False)).start()
    pids = [[p.pid, p.start_time] for p in recorded_processes(plane.directory)]
    print(json.dumps({"dir": str(plane.directory), "pids": pids}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_components_die_with_their_owner(sig: signal.Signals) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_SCRIPT], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, "the owner process exited before its control plane was ready"
        started = json.loads(line)
        pids = [processes.ProcessId(pid, start) for pid, start in started["pids"]]
        assert len(pids) == 3 and all(processes.is_running(p) for p in pids)
        owner.send_signal(sig)
        owner.wait(60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
    wait_until(lambda: not any(processes.is_running(p) for p in pids), 30, "components to die")
    directory = Path(started["dir"])
    if sig == signal.SIGKILL:
        # Nothing could clean up; the next control plane removes the leftover directory.
        controlplane.reap_stale_temp_dirs()
    assert not directory.exists()
