"""A real local control plane: etcd, kube-apiserver and kube-controller-manager on loopback, with TLS.

Owns: the components' flags (envtest's, plus --advertise-address and the controller-manager for
ownerReference garbage collection and namespace deletion), the directory layout (certificates, etcd data,
logs, ``kubeconfig``, ``state.json``), waiting until ready, restarting the apiserver on the same port, and
stopping everything without leaving processes or temp dirs behind. With a node (``node=``): the
ServiceAccount admission plugin, the controllers Deployments need, the apiserver's client certificate
towards kubelets, and starting/stopping containerd, kube-scheduler and kubelet in order.

Two modes:
- in-process (tests): children die with this process (PR_SET_PDEATHSIG), and are stopped at exit or
  on SIGTERM/SIGHUP; a temp dir of a crashed run is removed by the next run.
- detached (``nylas-operator cluster up``): children outlive the CLI; their pids (with start times)
  are recorded in ``DIR/state.json`` so ``stop_detached(DIR)`` can stop them later.

Does not own: building binaries (``build``), making certificates (``certs``), spawning (``processes``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import NoReturn

import yaml

from nylas_operator.devcluster import certs, images, processes
from nylas_operator.devcluster import node as node_mod
from nylas_operator.devcluster.build import Binaries, NodeBinaries

STATE_FILE = "state.json"
KUBECONFIG_FILE = "kubeconfig"
TEMP_PREFIX = "nylas-operator-cp-"
# Default controllers: GC and namespace deletion are what tests rely on; the serviceaccount controller
# makes the `default` ServiceAccount appear in every namespace, as on a real cluster; the
# clusterrole aggregation controller fills the built-in view/edit/admin roles from labelled ones.
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "clusterrole-aggregation-controller",
)
# With a node: without these `helm install --wait` never finishes and no kube-root-ca.crt ConfigMap
# (the CA of every Pod's ServiceAccount token volume) appears.
NODE_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "root-ca-certificate-publisher-controller",
)
NODE_COMPONENTS = ("containerd", "kube-scheduler", "kubelet")
_PORT_RETRIES = 3
_ADDRESS_IN_USE = "address already in use"
_CONTEXT = "nylas-operator-dev"


class StartError(RuntimeError):
    """A component did not start or did not become ready in time."""


class KubectlError(RuntimeError):
    """kubectl exited non-zero; ``stderr`` holds its message."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"kubectl {' '.join(args)} failed (exit {returncode}): {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class _Component:
    name: str
    make_args: Callable[[], list[str]]
    popen: subprocess.Popen[bytes] | None = None
    pid: processes.ProcessId | None = None
    args: list[str] = field(default_factory=list)


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) rooted in one directory."""

    def __init__(
        self,
        binaries: Binaries,
        directory: Path | None = None,
        *,
        detached: bool = False,
        controller_manager: bool = True,
        node: NodeBinaries | None = None,
        start_timeout: float = 90.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.binaries = binaries
        self.detached = detached
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._owns_directory = directory is None
        self._directory = directory.resolve() if directory else None
        self._with_kcm = controller_manager or node is not None
        self._node = node
        self._components: list[_Component] = []
        self._etcd_ports = (0, 0)
        self._apiserver_port = 0
        self._certs: certs.CertPaths | None = None

    # --- public surface ----------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """Root of everything this control plane writes (a fresh temp dir unless one was given)."""
        if self._directory is None:
            raise RuntimeError("the control plane has no directory before start()")
        return self._directory

    @property
    def kubeconfig(self) -> Path:
        return self.directory / KUBECONFIG_FILE

    @property
    def etcd_url(self) -> str:
        """etcd's client URL (plain HTTP on loopback; its JSON gateway serves ``/v3/...``)."""
        return f"http://127.0.0.1:{self._etcd_ports[0]}"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self._apiserver_port}"

    @property
    def bin_dir(self) -> Path:
        """The directory of kube-apiserver, etcd, helm (kubectl may live elsewhere: ``binaries.kubectl``)."""
        return self.binaries.dir

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def node_layout(self) -> node_mod.NodeLayout | None:
        """Paths of the node (its containerd socket: ``containerd_socket``); None without a node."""
        return node_mod.NodeLayout.of(self.directory) if self._node is not None else None

    def env(self) -> dict[str, str]:
        """A copy of os.environ pointing KUBECONFIG at this control plane."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60.0, check: bool = True) -> str:
        """Run kubectl against this control plane and return its stdout (KubectlError if it fails)."""
        cmd = [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(list(args), result.returncode, result.stderr)
        return result.stdout

    def start(self) -> ControlPlane:
        if self._owns_directory:
            reap_stale_temp_dirs()
            self._directory = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.detached:
            _register(self)
        try:
            if self._node is not None:
                node_mod.check_host()
                node_mod.check_directory(self.directory)
            self._certs = certs.make_certs(self.directory / "pki")
            if self._node is not None:
                certs.make_node_certs(self._certs, node_mod.NODE_NAME)
            self._start_etcd()
            self._start_apiserver_with_free_port()
            if self._with_kcm:
                self._start_controller_manager()
            if self._node is not None:
                self._start_node(self._node)
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every component (SIGTERM, wait, SIGKILL) and remove what this control plane wrote."""
        if self._directory is not None:
            by_name = {c.name: c for c in self._components}

            def stop_one(name: str) -> None:
                if name in by_name:
                    self._stop_component(by_name[name])

            _stop_node(self._directory, stop_one)
        for component in reversed(self._components):
            self._stop_component(component)
        self._components.clear()
        _unregister(self)
        if self._directory is None:
            return
        if self._owns_directory:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
        else:
            _remove_state(self._directory)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver only; etcd and the controller-manager keep running."""
        self._stop_component(self._component("kube-apiserver"))

    def start_apiserver(self) -> None:
        """Start kube-apiserver again on the same port with the same etcd, and wait until ready."""
        component = self._component("kube-apiserver")
        self._spawn(component)
        self._wait_apiserver(component)
        self._write_state()

    def restart_apiserver(self, downtime: float = 0.0) -> None:
        self.stop_apiserver()
        time.sleep(downtime)
        self.start_apiserver()

    # --- components --------------------------------------------------------------------------------

    def _etcd_args(self) -> list[str]:
        client, peer = self._etcd_ports
        url = f"http://127.0.0.1:{client}"
        return [
            str(self.binaries.etcd),
            "--name=nylas-operator-dev",
            f"--data-dir={self.directory / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=nylas-operator-dev=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_args(self) -> list[str]:
        assert self._certs is not None
        pki = self._certs
        port = self._apiserver_port
        return [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{self._etcd_ports[0]}",
            "--bind-address=127.0.0.1",
            # Without it the apiserver looks for a default route and fails on isolated machines.
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.directory / 'apiserver'}",
            f"--tls-cert-file={pki.apiserver_cert}",
            f"--tls-private-key-file={pki.apiserver_key}",
            f"--client-ca-file={pki.client_ca}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            *self._node_apiserver_args(),
            f"--service-account-issuer=https://127.0.0.1:{port}/",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            # Loopback addresses are invalid Endpoints; no one needs the `kubernetes` Service here.
            "--endpoint-reconciler-type=none",
        ]

    def _node_apiserver_args(self) -> list[str]:
        if self._node is None:
            # Nothing runs pods here; admission would otherwise wait for ServiceAccount tokens.
            return ["--disable-admission-plugins=ServiceAccount"]
        assert self._certs is not None
        cert, key = self._certs.apiserver_kubelet_client
        # ServiceAccount admission stays on: it mounts each Pod's token. kubelets are called (logs,
        # exec) with a client certificate they authenticate by x509, never anonymously.
        return [f"--kubelet-client-certificate={cert}", f"--kubelet-client-key={key}"]

    def _kcm_args(self) -> list[str]:
        assert self._certs is not None
        controllers = CONTROLLERS + (NODE_CONTROLLERS if self._node is not None else ())
        return [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={self.kubeconfig}",
            f"--controllers={','.join(controllers)}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",  # no health endpoint needed: nothing to pick a port for
            f"--cert-dir={self.directory / 'kcm'}",
            f"--root-ca-file={self._certs.serving_ca}",
            f"--service-account-private-key-file={self._certs.sa_key}",
        ]

    def _start_etcd(self) -> None:
        def pick_ports() -> None:
            client, peer = processes.free_ports(2)
            self._etcd_ports = (client, peer)

        def wait(component: _Component) -> None:
            health = f"http://127.0.0.1:{self._etcd_ports[0]}/health"
            self._wait(component, 30.0, functools.partial(_http_ok, health, None))

        self._start_on_free_ports(_Component("etcd", self._etcd_args), pick_ports, wait)

    def _start_apiserver_with_free_port(self) -> None:
        def pick_port() -> None:
            self._apiserver_port = processes.free_port()
            self._write_kubeconfig()

        component = _Component("kube-apiserver", self._apiserver_args)
        self._start_on_free_ports(component, pick_port, self._wait_apiserver)

    def _start_on_free_ports(
        self,
        component: _Component,
        pick_ports: Callable[[], None],
        wait: Callable[[_Component], None],
    ) -> None:
        """Start with freshly picked ports; another process may grab one first, so retry on that."""
        self._components.append(component)
        for attempt in range(_PORT_RETRIES):
            pick_ports()
            offset = self._spawn(component)
            try:
                wait(component)
                return
            except StartError:
                if attempt + 1 < _PORT_RETRIES and _ADDRESS_IN_USE in self._log_since(component, offset):
                    self._stop_component(component)
                    continue
                raise

    def _start_controller_manager(self) -> None:
        component = _Component("kube-controller-manager", self._kcm_args)
        self._components.append(component)
        self._spawn(component)

    def _start_node(self, binaries: NodeBinaries) -> None:
        """containerd (+ the pause image), kube-scheduler, kubelet; ready once the Node is schedulable."""
        assert self._certs is not None
        layout = node_mod.NodeLayout.of(self.directory)
        node_mod.record_host(layout)
        node_mod.write_files(
            layout,
            server=self.server,
            serving_ca=self._certs.serving_ca,
            client_ca=self._certs.client_ca,
            kubelet_cert=self._certs.kubelet_client,
            scheduler_cert=self._certs.scheduler_client,
            kubelet_ports=(processes.free_port(), processes.free_port()),
        )
        # No Node authorizer here (RBAC only): the system:node role goes to the nodes' group.
        binding = self.kubectl(
            "create", "clusterrolebinding", "nylas-operator-dev:nodes", "--clusterrole=system:node",
            "--group=system:nodes", "--dry-run=client", "-o", "yaml",
        )  # fmt: skip
        self.kubectl("apply", "-f", "-", input=binding)

        containerd = _Component("containerd", lambda: node_mod.containerd_args(layout))
        self._components.append(containerd)
        self._spawn(containerd)
        self._wait(containerd, 30.0, lambda: _containerd_ready(layout))
        try:
            images.load_pause(layout.containerd_socket, binaries.pause)
        except images.ImageError as exc:
            raise StartError(f"the pause image could not be loaded: {exc}") from None

        for name, make_args in (
            ("kube-scheduler", lambda: node_mod.scheduler_args(binaries.kube_scheduler, layout)),
            ("kubelet", lambda: node_mod.kubelet_args(binaries.kubelet, layout)),
        ):
            component = _Component(name, make_args)
            self._components.append(component)
            self._spawn(component)
        self._wait(self._component("kubelet"), self.start_timeout, self._node_registered)
        # kubelet registers with the not-ready taint (no CNI: the Node stays NotReady). No
        # node-lifecycle controller runs here, so removing the taint once is enough.
        self.kubectl("taint", "nodes", node_mod.NODE_NAME, "node.kubernetes.io/not-ready-", check=False)

    def _node_registered(self) -> bool:
        out = self.kubectl("get", "node", node_mod.NODE_NAME, "-o", "name", check=False)
        return bool(out.strip())

    def _wait_apiserver(self, component: _Component) -> None:
        context = self._ssl_context()
        self._wait(component, self.start_timeout, lambda: _http_ok(f"{self.server}/readyz", context))
        # Ready also means the bootstrap namespaces exist: tests create objects in `default` at once.
        self._wait(
            component,
            self.start_timeout,
            lambda: _http_ok(f"{self.server}/api/v1/namespaces/default", context),
        )

    # --- plumbing ----------------------------------------------------------------------------------

    def _component(self, name: str) -> _Component:
        for component in self._components:
            if component.name == name:
                return component
        raise StartError(f"{name} is not part of this control plane")

    def _spawn(self, component: _Component) -> int:
        """Start the component; return the size of its log before, to read only this run's output."""
        log = self.logs / f"{component.name}.log"
        offset = log.stat().st_size if log.exists() else 0
        component.args = component.make_args()
        component.popen = processes.spawn(component.args, log, tie_to_parent=not self.detached)
        component.pid = processes.identify(component.popen.pid)
        # Recorded at once: a run killed during start-up must still be found and cleaned up later.
        self._write_state()
        return offset

    def _stop_component(self, component: _Component) -> None:
        if component.popen is not None:
            processes.stop_popen(component.popen, self.stop_timeout)
        elif component.pid is not None:
            processes.stop_pid(component.pid, self.stop_timeout)
        component.popen = None
        component.pid = None

    def _log_since(self, component: _Component, offset: int) -> str:
        try:
            with open(self.logs / f"{component.name}.log", "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait(self, component: _Component, timeout: float, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if component.popen is not None and component.popen.poll() is not None:
                self._fail(component, f"exited with {component.popen.returncode}")
            if ready():
                return
            if time.monotonic() > deadline:
                self._fail(component, f"not ready after {timeout:.0f}s")
            time.sleep(0.1)

    def _fail(self, component: _Component, what: str) -> NoReturn:
        # The message carries the log's tail: an owned temp dir (and its logs) is removed on failure.
        log = self.logs / f"{component.name}.log"
        tail = self._log_since(component, 0).strip().splitlines()[-12:]
        raise StartError(f"{component.name} {what}; log {log} ends with:\n" + "\n".join(tail))

    def _ssl_context(self) -> ssl.SSLContext:
        assert self._certs is not None
        context = ssl.create_default_context(cafile=str(self._certs.serving_ca))
        context.load_cert_chain(str(self._certs.admin_cert), str(self._certs.admin_key))
        return context

    def _write_kubeconfig(self) -> None:
        assert self._certs is not None

        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": _CONTEXT,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": b64(self._certs.serving_ca),
                    },
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64(self._certs.admin_cert),
                        "client-key-data": b64(self._certs.admin_key),
                    },
                }
            ],
            "contexts": [{"name": _CONTEXT, "context": {"cluster": _CONTEXT, "user": "admin"}}],
            "current-context": _CONTEXT,
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.chmod(0o600)
        os.replace(tmp, self.kubeconfig)

    def _write_state(self) -> None:
        owner = None if self.detached else processes.identify(os.getpid())
        state = {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "owner": None if owner is None else {"pid": owner.pid, "start_time": owner.start_time},
            "processes": {
                c.name: {"pid": c.pid.pid, "start_time": c.pid.start_time} for c in self._components if c.pid
            },
        }
        (self.directory / STATE_FILE).write_text(json.dumps(state, indent=2))


# --- detached clusters and leftovers ---------------------------------------------------------------------


def _load_state(directory: Path) -> dict[str, object] | None:
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def recorded_processes(directory: Path) -> list[processes.ProcessId]:
    """The component processes recorded in ``DIR/state.json`` (running or not)."""
    state = _load_state(directory) or {}
    recorded = state.get("processes")
    if not isinstance(recorded, dict):
        return []
    return [processes.ProcessId(int(p["pid"]), int(p["start_time"])) for p in recorded.values()]


def _recorded_by_name(directory: Path) -> dict[str, processes.ProcessId]:
    state = _load_state(directory) or {}
    recorded = state.get("processes")
    if not isinstance(recorded, dict):
        return {}
    return {
        str(name): processes.ProcessId(int(p["pid"]), int(p["start_time"])) for name, p in recorded.items()
    }


def _stop_node(directory: Path, stop: Callable[[str], None]) -> None:
    """Stop a node (if this cluster has one): kubelet first so it restarts nothing, then its containers
    through containerd, then containerd; then undo what it did to the host."""
    layout = node_mod.NodeLayout.of(directory)
    if not layout.dir.exists():
        return
    stop("kubelet")
    node_mod.remove_containers(layout)
    stop("kube-scheduler")
    stop("containerd")
    node_mod.restore_host(layout)


def _containerd_ready(layout: node_mod.NodeLayout) -> bool:
    if not layout.containerd_socket.exists():
        return False
    result = subprocess.run(
        [*images.ctr_args(layout.containerd_socket), "version"],
        capture_output=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode == 0


def running_processes(directory: Path) -> list[processes.ProcessId]:
    return [p for p in recorded_processes(directory) if processes.is_running(p)]


def stop_detached(directory: Path, timeout: float = 20.0) -> int:
    """Stop the control plane recorded in ``directory``; return how many processes were stopped.

    Idempotent: nothing recorded or nothing running is fine. Components are stopped in reverse start
    order (controller-manager, apiserver, etcd) so none of them logs a storm of connection errors.
    """
    if not (directory / STATE_FILE).exists():
        return 0  # not a control plane's directory (or already down): touch nothing
    running = running_processes(directory)
    by_name = _recorded_by_name(directory)

    def stop_one(name: str) -> None:
        if name in by_name:
            processes.stop_pid(by_name[name], timeout)

    _stop_node(directory, stop_one)
    for proc in reversed(running):
        processes.stop_pid(proc, timeout)
    _remove_state(directory)
    return len(running)


def is_usable_directory(directory: Path) -> bool:
    """A directory ``up`` may write into: missing, empty, only logs, or holding a previous state."""
    if not directory.exists():
        return True
    entries = {entry.name for entry in directory.iterdir()}
    return not entries - {"logs"} or STATE_FILE in entries


def _remove_state(directory: Path) -> None:
    """Remove everything a control plane wrote into a user's directory, except its logs."""
    for name in ("pki", "etcd", "apiserver", "kcm"):
        shutil.rmtree(directory / name, ignore_errors=True)
    for name in (KUBECONFIG_FILE, STATE_FILE, KUBECONFIG_FILE + ".tmp"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


def reap_stale_temp_dirs() -> None:
    """Remove temp dirs of in-process control planes whose owner died without cleaning up (SIGKILL)."""
    for candidate in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        state = _load_state(candidate)
        if state is None:
            continue  # still starting, or not ours
        owner = state.get("owner")
        if not isinstance(owner, dict):
            continue
        if processes.is_running(processes.ProcessId(int(owner["pid"]), int(owner["start_time"]))):
            continue
        stop_detached(candidate, timeout=5.0)
        # A node's mounts are gone now (stop_detached): rmtree cannot reach into the host.
        shutil.rmtree(candidate, ignore_errors=True)


# --- in-process safety net: stop at exit and on SIGTERM/SIGHUP ------------------------------------------

_live: list[ControlPlane] = []
_live_lock = threading.Lock()
_hooks_installed = False


def _register(plane: ControlPlane) -> None:
    global _hooks_installed
    with _live_lock:
        _live.append(plane)
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _stop_all_and_die)


def _unregister(plane: ControlPlane) -> None:
    with _live_lock:
        if plane in _live:
            _live.remove(plane)


def _stop_all() -> None:
    with _live_lock:
        planes = list(_live)
    for plane in planes:
        with contextlib.suppress(Exception):
            plane.stop()


def _stop_all_and_die(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    """True when GET ``url`` answers 200 (connection errors mean "not yet")."""
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=5)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
