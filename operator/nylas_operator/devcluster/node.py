"""The optional node of the local cluster: containerd, kubelet and kube-scheduler, host network only.

Owns: the node's directory layout (``DIR/node``), the configuration and flags of containerd, kubelet and
kube-scheduler, the state of the host the node changes (recorded before start, restored by teardown),
and removing everything the node made: containers, shims, mounts, cgroups, host directories, sysctls.

Network: loopback only, no CNI, no kube-proxy. Every Pod must use ``hostNetwork: true``; the node is
named ``127.0.0.1`` so every address and probe target is loopback. Pods get a resolv.conf pointing at
127.0.0.1, never the host's (its resolver is not on loopback). Only one node per machine: kubelet
uses machine-wide places (``/var/lib/kubelet``, the ``kubepods`` cgroups, kernel sysctls).

Does not own: spawning or stopping processes (``controlplane``, ``processes``), certificates (``certs``),
images (``images``). The recipe this follows is in docs/development.md ("A node").
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from nylas_operator.devcluster import images, processes

NODE_NAME = "127.0.0.1"
NODE_DIR = "node"
HOST_STATE_FILE = "host.json"
# kubelet sets these at start (protectKernelDefaults=false); teardown puts the recorded values back.
SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
# kubelet creates these even with --root-dir elsewhere; teardown removes the ones it created.
HOST_DIRS = ("/var/lib/kubelet", "/usr/libexec/kubernetes")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
_MNT_DETACH = 2


class NodeError(RuntimeError):
    """The node cannot start on this machine; one human line."""


@dataclass(frozen=True)
class NodeLayout:
    """Every path of one node, under ``DIR/node``."""

    dir: Path

    @classmethod
    def of(cls, cluster_dir: Path) -> NodeLayout:
        return cls(cluster_dir / NODE_DIR)

    @property
    def containerd_config(self) -> Path:
        return self.dir / "containerd.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.dir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.dir / "kubelet.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.dir / "kubelet.kubeconfig"

    @property
    def scheduler_kubeconfig(self) -> Path:
        return self.dir / "scheduler.kubeconfig"

    @property
    def host_state(self) -> Path:
        return self.dir / HOST_STATE_FILE


def kubeconfig(server: str, ca: Path, cert: Path, key: Path) -> str:
    """A kubeconfig (paths, not inline data) for one client certificate."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
            "users": [{"name": "user", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "user"}}],
            "current-context": "local",
        },
        sort_keys=False,
    )


def containerd_config(layout: NodeLayout) -> str:
    d = layout.dir
    # restrict_oom_score_adj: without CAP_SYS_RESOURCE (as here) every sandbox fails with
    # "can't get final child's PID from pipe: EOF". CNI dirs are empty: host-network Pods only.
    return f"""version = 2
root = "{d / "containerd-root"}"
state = "{d / "containerd-state"}"
[grpc]
  address = "{layout.containerd_socket}"
[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / "containerd-opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d / "cni-bin"}"
    conf_dir = "{d / "cni-conf"}"
"""


def kubelet_config(layout: NodeLayout, *, client_ca: Path, port: int, healthz_port: int) -> str:
    d = layout.dir
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": port,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "readOnlyPort": 0,
        # The apiserver calls the kubelet (logs, exec) with its client certificate; nobody is anonymous.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "podLogsDir": str(d / "pod-logs"),
        "resolvConf": str(d / "resolv.conf"),
        "volumePluginDir": str(d / "volume-plugins"),
        # A test machine's disk may be fuller than the defaults allow: never evict the test Pods.
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_files(
    layout: NodeLayout,
    *,
    server: str,
    serving_ca: Path,
    client_ca: Path,
    kubelet_cert: tuple[Path, Path],
    scheduler_cert: tuple[Path, Path],
    kubelet_ports: tuple[int, int],
) -> None:
    for sub in ("cni-bin", "cni-conf", "pod-logs", "volume-plugins", "kubelet"):
        (layout.dir / sub).mkdir(parents=True, exist_ok=True)
    (layout.dir / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    layout.containerd_config.write_text(containerd_config(layout))
    port, healthz = kubelet_ports
    layout.kubelet_config.write_text(
        kubelet_config(layout, client_ca=client_ca, port=port, healthz_port=healthz)
    )
    layout.kubelet_kubeconfig.write_text(kubeconfig(server, serving_ca, *kubelet_cert))
    layout.scheduler_kubeconfig.write_text(kubeconfig(server, serving_ca, *scheduler_cert))


def containerd_args(layout: NodeLayout) -> list[str]:
    containerd = images.tool("containerd")
    return [containerd, f"--config={layout.containerd_config}", "--log-level=warn"]


def kubelet_args(kubelet: Path, layout: NodeLayout) -> list[str]:
    # --node-ip=127.0.0.1 is refused ("can't be loopback"); the IP as the node's name works.
    return [
        str(kubelet),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubelet_kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        f"--cert-dir={layout.dir / 'kubelet-pki'}",
        f"--hostname-override={NODE_NAME}",
        "--v=1",
    ]


def scheduler_args(scheduler: Path, layout: NodeLayout) -> list[str]:
    return [
        str(scheduler),
        f"--kubeconfig={layout.scheduler_kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
    ]


# --- the host ----------------------------------------------------------------------------------------------


def other_kubelet() -> int | None:
    """The pid of a kubelet already running on this machine (one node per machine), or None."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # A killed kubelet whose new parent never reaps it (some init processes do not) stays a
            # zombie named "kubelet": it runs nothing and holds nothing, so it is not a node.
            if (proc / "comm").read_text().strip() == "kubelet" and processes.is_running(
                processes.identify(int(proc.name))
            ):
                return int(proc.name)
    return None


# kubelet binds unix sockets under its root (the longest: pod-resources/<10 digits>), and Linux caps a
# socket path at 107 bytes; past that kubelet exits with "bind: invalid argument".
SOCKET_PATH_MAX = 107
_LONGEST_KUBELET_SOCKET = "/pod-resources/" + "0" * 10


def check_directory(cluster_dir: Path) -> None:
    """Refuse a cluster directory so deep that kubelet's sockets could not be bound."""
    root = NodeLayout.of(cluster_dir).kubelet_root
    longest = len(str(root)) + len(_LONGEST_KUBELET_SOCKET)
    if longest > SOCKET_PATH_MAX:
        raise NodeError(
            f"the cluster directory {cluster_dir} is too deep for a node: kubelet's sockets under {root} "
            f"would take {longest} bytes, over Linux's {SOCKET_PATH_MAX}; use a shorter --dir"
        )


def check_host() -> None:
    if os.geteuid() != 0:
        raise NodeError("the node needs root (kubelet and containerd manage mounts and cgroups)")
    for name in ("containerd", "runc", "ctr"):
        with contextlib.suppress(images.ImageError):
            images.tool(name)
            continue
        raise NodeError(f"`{name}` is missing; install it (Debian: apt-get install containerd runc)")
    pid = other_kubelet()
    if pid is not None:
        raise NodeError(f"a kubelet already runs on this machine (pid {pid}); only one node per machine")


def record_host(layout: NodeLayout) -> None:
    """Remember the sysctls and host directories kubelet changes (kept from the first start)."""
    if layout.host_state.exists():
        return
    layout.dir.mkdir(parents=True, exist_ok=True)
    state = {
        "sysctls": {name: _read_sysctl(name) for name in SYSCTLS},
        "created_dirs": [d for d in HOST_DIRS if not Path(d).exists()],
    }
    layout.host_state.write_text(json.dumps(state, indent=2))


def _read_sysctl(name: str) -> str | None:
    try:
        return (Path("/proc/sys") / name).read_text().strip()
    except OSError:
        return None


def remove_containers(layout: NodeLayout) -> None:
    """Kill and delete every task and container through the node's containerd (while it runs)."""
    if not layout.containerd_socket.exists():
        return
    ctr = images.ctr_args(layout.containerd_socket)

    def run(*args: str) -> str:
        result = subprocess.run(
            [*ctr, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
        )
        return result.stdout

    containers = run("containers", "list", "--quiet").split()
    for container in containers:
        run("tasks", "kill", "--all", "--signal=SIGKILL", container)
    for container in containers:
        run("tasks", "delete", "--force", container)
        run("containers", "delete", container)


def _cgroup_dirs() -> list[Path]:
    """Every ``kubepods`` cgroup directory (one per cgroup v1 hierarchy, or the v2 one), deepest first."""
    if not CGROUP_ROOT.is_dir():
        return []
    found: list[Path] = []
    for top in [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())]:
        root = top / KUBEPODS
        if root.is_dir() and not root.is_symlink():
            found += [Path(dirpath) for dirpath, _, _ in os.walk(root)]
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def kill_pods_processes() -> int:
    """SIGKILL every process left in the ``kubepods`` cgroups (containers whose shim is gone)."""
    killed = 0
    for cgroup in _cgroup_dirs():
        with contextlib.suppress(OSError):
            for pid in (cgroup / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
                    killed += 1
    return killed


def kill_shims(layout: NodeLayout) -> None:
    """SIGKILL containerd shims of this node (they outlive containerd by design)."""
    marker = str(layout.containerd_socket).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ProcessLookupError):
            cmdline = (proc / "cmdline").read_bytes()
            if b"containerd-shim" in cmdline and marker in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below ``directory``, deepest first (from /proc/self/mountinfo)."""
    prefix = str(directory.resolve())
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(directory: Path) -> None:
    umount2 = ctypes.CDLL(None, use_errno=True).umount2
    for _ in range(5):  # a bind mount of a parent can hide more mounts: repeat until none is left
        points = mounts_under(directory)
        if not points:
            return
        for point in points:
            umount2(str(point).encode(), _MNT_DETACH)


def remove_cgroups() -> None:
    for _ in range(50):  # a cgroup whose last process is still exiting is busy for a moment
        busy = False
        for cgroup in _cgroup_dirs():
            try:
                cgroup.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                busy = True
        if not busy:
            return
        kill_pods_processes()
        time.sleep(0.1)


def restore_host(layout: NodeLayout) -> None:
    """Undo what the node did to the host (after kubelet and containerd have stopped)."""
    kill_shims(layout)
    kill_pods_processes()
    unmount_all(layout.dir)
    remove_cgroups()
    try:
        state = json.loads(layout.host_state.read_text())
    except (OSError, ValueError):
        state = {}
    for name, value in (state.get("sysctls") or {}).items():
        if value is not None and name in SYSCTLS:
            with contextlib.suppress(OSError):
                (Path("/proc/sys") / name).write_text(value)
    for created in state.get("created_dirs") or []:
        if created in HOST_DIRS:
            unmount_all(Path(created))
            subprocess.run(["rm", "-rf", "--one-file-system", created], check=False, timeout=60)
    # --one-file-system: never follow a mount that survived into the host's file systems.
    subprocess.run(["rm", "-rf", "--one-file-system", str(layout.dir)], check=False, timeout=120)
