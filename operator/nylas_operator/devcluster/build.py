"""Build (or reuse) the binaries of the local control plane.

Owns: the pinned versions, the per-version cache directory outside the repository, building
kube-apiserver, kube-controller-manager, etcd and helm from the Go module proxy through the wrapper
modules shipped as package data (``modules/{k8s,etcd,helm}``: go.mod, go.sum, tools.go), and finding a
kubectl >= 1.33 (preinstalled, or built in the k8s wrapper when none is found). For the optional
node: kubelet and kube-scheduler (same k8s wrapper) and the static ``pause`` program (``modules/pause``).

Does not own: starting or stopping anything (see ``controlplane``), certificates (see ``certs``).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

K8S_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.4"
HELM_VERSION = "v3.19.5"
# Every wrapper go.mod says `go 1.24.0`; with GOTOOLCHAIN=local an older Go cannot build them.
MIN_GO = (1, 24)
MIN_KUBECTL_MINOR = 33

CACHE_ENV = "NYLAS_OPERATOR_CACHE"
BIN_DIR_ENV = "NYLAS_OPERATOR_BIN_DIR"
MODULES_DIR = Path(__file__).resolve().parent / "modules"

_KUBECTL_DPKG_PACKAGE = "kubectl"
_GO_HINT = (
    "install a Go >= 1.24 toolchain (the official Go release, or your distribution's "
    "golang >= 1.24 package) and put its bin/ on PATH"
)


class BuildError(RuntimeError):
    """A prerequisite is missing or a build failed; the message is one line meant for a human."""


@dataclass(frozen=True)
class Binaries:
    """Paths of every binary the control plane and the tests use."""

    dir: Path
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    helm: Path
    kubectl: Path


@dataclass(frozen=True)
class NodeBinaries:
    """What a node adds (``nylas-operator cluster up --with-node``); containerd and runc come from Debian."""

    kubelet: Path
    kube_scheduler: Path
    pause: Path


@dataclass(frozen=True)
class _Target:
    name: str
    module: str
    package: str
    ldflags: tuple[str, ...]


def cache_root() -> Path:
    """Root of the cache: ``$NYLAS_OPERATOR_CACHE`` or ``~/.cache/nylas-operator``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nylas-operator"


def version_dir_name() -> str:
    return f"k8s-{K8S_VERSION}-etcd-{ETCD_VERSION}-helm-{HELM_VERSION}"


def bin_dir() -> Path:
    """Where the binaries of the pinned versions live (``$NYLAS_OPERATOR_BIN_DIR`` wins)."""
    env = os.environ.get(BIN_DIR_ENV)
    return Path(env).expanduser() if env else cache_root() / "bin" / version_dir_name()


def k8s_minor() -> str:
    return K8S_VERSION.split(".")[1]


def _targets(build_date: str) -> list[_Target]:
    k8s_ld = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        k8s_ld += [
            f"-X {pkg}.gitVersion={K8S_VERSION}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={k8s_minor()}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    # Without these, `helm template` assumes Kubernetes 1.20 and `helm version` prints only "v3.19".
    helm_ld = ["-s", "-w", f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"]
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        helm_ld += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={k8s_minor()}"]
    k8s = tuple(k8s_ld)
    return [
        _Target("kube-apiserver", "k8s", "k8s.io/kubernetes/cmd/kube-apiserver", k8s),
        _Target("kube-controller-manager", "k8s", "k8s.io/kubernetes/cmd/kube-controller-manager", k8s),
        # The main package of etcd is its module root; -o names the binary (the package is "v3").
        _Target("etcd", "etcd", "go.etcd.io/etcd/server/v3", ("-s", "-w")),
        _Target("helm", "helm", "helm.sh/helm/v3/cmd/helm", tuple(helm_ld)),
    ]


def _node_targets(build_date: str) -> list[_Target]:
    k8s = _targets(build_date)[0].ldflags
    return [
        _Target("kube-scheduler", "k8s", "k8s.io/kubernetes/cmd/kube-scheduler", k8s),
        _Target("kubelet", "k8s", "k8s.io/kubernetes/cmd/kubelet", k8s),
        # Our own module: the sandbox image of the node (registry.k8s.io/pause is not reachable offline).
        _Target("pause", "pause", ".", ("-s", "-w")),
    ]


def _kubectl_target(build_date: str) -> _Target:
    api = _targets(build_date)[0]
    return _Target("kubectl", "k8s", "k8s.io/kubernetes/cmd/kubectl", api.ldflags)


# --- kubectl discovery ---------------------------------------------------------------------------------


def parse_kubectl_minor(version_json: str) -> int | None:
    """Minor version from `kubectl version --client -o json` (``"33"`` or ``"32+"``); None if unreadable."""
    try:
        client = json.loads(version_json)["clientVersion"]
        git_version = str(client.get("gitVersion", ""))
        minor = str(client["minor"])
    except (ValueError, KeyError, TypeError):
        return None
    # The google-cloud-sdk dispatcher reports e.g. v1.32.4-dispatcher: it is not a real kubectl.
    if "dispatcher" in git_version:
        return None
    match = re.match(r"\d+", minor)
    return int(match.group()) if match else None


def _dpkg_kubectl_candidates() -> list[Path]:
    """kubectl.1.NN files of the Debian `kubectl` package, newest first."""
    if shutil.which("dpkg") is None:
        return []
    try:
        listing = subprocess.run(
            ["dpkg", "-L", _KUBECTL_DPKG_PACKAGE], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted_kubectl_files(listing.splitlines())


def sorted_kubectl_files(paths: Iterable[str]) -> list[Path]:
    """Versioned kubectl files (``.../kubectl.1.33``) from a listing, highest minor first."""
    found: list[tuple[int, Path]] = []
    for line in paths:
        match = re.search(r"/kubectl\.1\.(\d+)$", line.strip())
        if match:
            found.append((int(match.group(1)), Path(line.strip())))
    return [path for _, path in sorted(found, reverse=True)]


def kubectl_minor(path: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(path), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_kubectl_minor(out)


def _kubectl_candidates(out_dir: Path) -> Iterator[Path]:
    yield out_dir / "kubectl"
    yield from _dpkg_kubectl_candidates()
    on_path = shutil.which("kubectl")
    if on_path:
        yield Path(on_path)


def find_kubectl(out_dir: Path | None = None) -> Path | None:
    """A kubectl reporting a version >= 1.33, or None."""
    for candidate in _kubectl_candidates(out_dir or bin_dir()):
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        minor = kubectl_minor(candidate)
        if minor is not None and minor >= MIN_KUBECTL_MINOR:
            return candidate
    return None


def find_helm() -> str | None:
    """$HELM, else the pinned helm that `make control-plane` builds, else one on PATH; None if none."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    candidate = bin_dir() / "helm"
    if candidate.exists():
        return str(candidate)
    return shutil.which("helm")


# --- Go ------------------------------------------------------------------------------------------------


def parse_go_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from ``go1.26.8`` / ``go version go1.24.0 linux/amd64``; None if unreadable."""
    match = re.search(r"go(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GOWORK": "off",
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
            # The committed go.sum is the source of truth: never rewrite it while building.
            "GOFLAGS": "-mod=readonly",
        }
    )
    return env


def check_go() -> str:
    """Path of a usable `go`, or BuildError saying what is missing and how to get it."""
    go = shutil.which("go")
    if go is None:
        raise BuildError(f"the Go toolchain is missing (no `go` on PATH); {_GO_HINT}")
    try:
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=True, env=_go_env()
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"`{go} env GOVERSION` failed ({exc}); {_GO_HINT}") from None
    version = parse_go_version(out)
    if version is None or version < MIN_GO:
        raise BuildError(f"Go {out.strip() or '?'} at {go} is too old (need >= 1.24); {_GO_HINT}")
    return go


# --- building ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _build_lock(out_dir: Path) -> Iterator[None]:
    """Serialise builds of one version dir across processes (two test runs may start at once)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _go_build(go: str, target: _Target, out_dir: Path) -> None:
    """Build one binary in its wrapper module; it appears under its final name only when complete."""
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{target.name}-", dir=out_dir))
    cmd = [go, "build", "-trimpath", "-ldflags", " ".join(target.ldflags), "-o", str(tmp / target.name)]
    try:
        result = subprocess.run(
            [*cmd, target.package],
            cwd=MODULES_DIR / target.module,
            env=_go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise BuildError(f"building {target.name} failed: " + " | ".join(tail))
        os.replace(tmp / target.name, out_dir / target.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_binaries(*, build: bool = True) -> Binaries:
    """Return the binaries of the pinned versions, building the missing ones when ``build`` is true.

    Raises BuildError (one human line) when something is missing and cannot be built.
    """
    out_dir = bin_dir()
    names = ["kube-apiserver", "kube-controller-manager", "etcd", "helm"]
    missing = [n for n in names if not _is_executable(out_dir / n)]
    kubectl = find_kubectl(out_dir)
    if (missing or kubectl is None) and not build:
        what = ", ".join(missing + ([] if kubectl else ["kubectl >= 1.33"]))
        raise BuildError(f"missing in {out_dir}: {what}; run `nylas-operator cluster build`")
    if missing or kubectl is None:
        if os.environ.get(BIN_DIR_ENV):
            raise BuildError(f"${BIN_DIR_ENV}={out_dir} lacks {', '.join(missing) or 'kubectl'}")
        go = check_go()
        out_dir.mkdir(parents=True, exist_ok=True)
        with _build_lock(out_dir):
            build_date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            todo = [t for t in _targets(build_date) if not _is_executable(out_dir / t.name)]
            if find_kubectl(out_dir) is None:
                todo.append(_kubectl_target(build_date))
            for target in todo:
                _go_build(go, target, out_dir)
        kubectl = find_kubectl(out_dir)
        if kubectl is None:
            raise BuildError(f"no kubectl >= 1.33 found or built in {out_dir}")
    return Binaries(
        dir=out_dir,
        etcd=out_dir / "etcd",
        kube_apiserver=out_dir / "kube-apiserver",
        kube_controller_manager=out_dir / "kube-controller-manager",
        helm=out_dir / "helm",
        kubectl=kubectl,
    )


def ensure_node_binaries(*, build: bool = True) -> NodeBinaries:
    """kubelet, kube-scheduler and pause of the pinned version, built into the cache when missing."""
    out_dir = bin_dir()
    names = [t.name for t in _node_targets("")]
    missing = [n for n in names if not _is_executable(out_dir / n)]
    if missing and not build:
        raise BuildError(
            f"missing in {out_dir}: {', '.join(missing)}; run `nylas-operator cluster build --with-node`"
        )
    if missing:
        if os.environ.get(BIN_DIR_ENV):
            raise BuildError(f"${BIN_DIR_ENV}={out_dir} lacks {', '.join(missing)}")
        go = check_go()
        out_dir.mkdir(parents=True, exist_ok=True)
        with _build_lock(out_dir):
            build_date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for target in _node_targets(build_date):
                if not _is_executable(out_dir / target.name):
                    _go_build(go, target, out_dir)
    return NodeBinaries(
        kubelet=out_dir / "kubelet", kube_scheduler=out_dir / "kube-scheduler", pause=out_dir / "pause"
    )
