"""The node's configuration (pure) and the host clean-up primitives (real mounts, root only)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from nylas_operator.devcluster import build, certs, images, node


def test_kubelet_authenticates_by_x509_and_webhook_never_anonymously(tmp_path: Path) -> None:
    layout = node.NodeLayout.of(tmp_path)
    config = yaml.safe_load(
        node.kubelet_config(layout, client_ca=tmp_path / "ca.crt", port=12345, healthz_port=12346)
    )
    assert config["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": str(tmp_path / "ca.crt")},
    }
    assert config["authorization"] == {"mode": "Webhook"}
    assert (config["address"], config["healthzBindAddress"]) == ("127.0.0.1", "127.0.0.1")
    assert (config["port"], config["healthzPort"], config["readOnlyPort"]) == (12345, 12346, 0)
    assert config["containerRuntimeEndpoint"] == f"unix://{layout.containerd_socket}"
    # Every place kubelet writes to that has a setting is under the node's directory.
    for key in ("podLogsDir", "resolvConf", "volumePluginDir"):
        assert Path(config[key]).is_relative_to(layout.dir), key


def test_containerd_keeps_everything_under_the_node_dir_and_restricts_oom_score(tmp_path: Path) -> None:
    layout = node.NodeLayout.of(tmp_path)
    config = tomllib.loads(node.containerd_config(layout))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == images.PAUSE_IMAGE
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    paths = [
        config["root"],
        config["state"],
        config["grpc"]["address"],
        config["ttrpc"]["address"],
        config["plugins"]["io.containerd.internal.v1.opt"]["path"],
        cri["cni"]["bin_dir"],
        cri["cni"]["conf_dir"],
    ]
    for path in paths:
        assert Path(path).is_relative_to(layout.dir), path


def test_node_kubeconfig_points_at_files_not_inline_keys(tmp_path: Path) -> None:
    text = node.kubeconfig("https://127.0.0.1:6443", tmp_path / "ca", tmp_path / "c", tmp_path / "k")
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority": str(tmp_path / "ca"),
    }
    assert "BEGIN" not in text


def test_pause_is_built_from_our_module_and_shipped_as_package_data() -> None:
    (pause,) = [t for t in build._node_targets("now") if t.name == "pause"]
    assert pause.module == "pause"
    assert (build.MODULES_DIR / "pause" / "main.go").is_file()
    names = {t.name for t in build._node_targets("now")}
    assert names == {"kubelet", "kube-scheduler", "pause"}
    tools = (build.MODULES_DIR / "k8s" / "tools.go").read_text()
    assert '"k8s.io/kubernetes/cmd/kubelet"' in tools and '"k8s.io/kubernetes/cmd/kube-scheduler"' in tools


def test_standin_tag_names_its_inputs() -> None:
    tag = images.standin_tag()
    assert tag.startswith(f"{images.STANDIN_REPOSITORY}:{images.STANDIN_SUITE}-")
    assert tag == images.standin_tag()


def _openssl_text(cert: Path) -> str:
    return subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout


def test_serving_cert_names_the_kubernetes_service_and_node_certs_have_their_identities(
    tmp_path: Path,
) -> None:
    paths = certs.make_certs(tmp_path / "pki")
    certs.make_node_certs(paths, node.NODE_NAME)
    text = _openssl_text(paths.apiserver_cert).splitlines()
    san_line = text[text.index(next(t for t in text if "Subject Alternative Name" in t)) + 1]
    sans = {entry.strip() for entry in san_line.split(",")}
    assert sans == {
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        "IP Address:10.0.0.1",
    }
    subjects = {
        paths.kubelet_client[0]: "O = system:nodes, CN = system:node:127.0.0.1",
        paths.scheduler_client[0]: "CN = system:kube-scheduler",
        paths.apiserver_kubelet_client[0]: "O = system:masters, CN = kube-apiserver-kubelet-client",
    }
    for cert, subject in subjects.items():
        assert f"Subject: {subject}" in _openssl_text(cert)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_unmount_all_removes_nested_mounts_deepest_first(tmp_path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    outer, inner = tmp_path / "node", tmp_path / "node" / "kubelet" / "pods"
    outer.mkdir()
    assert libc.mount(b"tmpfs", str(outer).encode(), b"tmpfs", 0, None) == 0
    inner.mkdir(parents=True)
    assert libc.mount(b"tmpfs", str(inner).encode(), b"tmpfs", 0, None) == 0
    assert node.mounts_under(outer) == [inner, outer]
    node.unmount_all(outer)
    assert node.mounts_under(outer) == []
    assert not (outer / "kubelet").exists()  # the tmpfs holding it is gone


def test_a_cluster_directory_too_deep_for_kubelets_sockets_is_refused_up_front() -> None:
    # The pytest directory that made kubelet exit with "bind: invalid argument" (108-byte socket path).
    deep = Path("/tmp/pytest-of-root/pytest-139/test_cluster_up_with_node_runs0/cluster")
    with pytest.raises(node.NodeError, match=r"too deep for a node.*108 bytes, over Linux's 107"):
        node.check_directory(deep)
    node.check_directory(Path("/tmp/pytest-of-root/pytest-99/test_cluster_up_with_node_runs0/cluster"))
    node.check_directory(Path("/tmp/nyo-abc123/cluster"))


def test_a_zombie_kubelet_is_not_a_running_node() -> None:
    """CI's init never reaps orphans: a killed kubelet lingered as a zombie and looked like a node."""
    set_name = ctypes.CDLL(None, use_errno=True).prctl
    pid = os.fork()
    if pid == 0:  # the child takes kubelet's name and exits at once; unreaped, it stays a zombie
        set_name(15, b"kubelet", 0, 0, 0)  # PR_SET_NAME
        os._exit(0)
    try:
        stat = Path(f"/proc/{pid}/stat")
        while stat.read_text().split(") ", 1)[1][0] != "Z":
            os.sched_yield()
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "kubelet"
        assert node.other_kubelet() != pid
    finally:
        os.waitpid(pid, 0)
