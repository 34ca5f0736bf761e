"""Certificates and keys of the local control plane, made with the `openssl` command line.

Owns: a serving CA and the apiserver serving certificate (SANs localhost, 127.0.0.1 and the in-cluster
names of the ``kubernetes`` Service), a client CA and the admin client certificate (CN admin,
O system:masters), the service-account key pair, and for a node the client certificates of kubelet,
kube-scheduler and of the apiserver towards kubelets. Like
envtest: ECDSA P-256, short validity, everything in one directory private to one control plane.

Does not own: the kubeconfig or any process (see ``controlplane``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Long enough for a dev cluster left running over a long weekend, short enough to stay throwaway.
VALIDITY_DAYS = 14

_SERVER_EXT = (
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\n"
    # Pods reach the apiserver by the `kubernetes` Service's names (10.0.0.1: its ClusterIP).
    "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,"
    "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1\n"
)
_CLIENT_EXT = (
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=clientAuth\n"
)


class CertError(RuntimeError):
    """openssl is missing or failed; one human line."""


@dataclass(frozen=True)
class CertPaths:
    """Every file written by ``make_certs``."""

    dir: Path

    @property
    def serving_ca(self) -> Path:
        return self.dir / "serving-ca.crt"

    @property
    def client_ca(self) -> Path:
        return self.dir / "client-ca.crt"

    @property
    def apiserver_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"

    @property
    def kubelet_client(self) -> tuple[Path, Path]:
        """kubelet's client certificate towards the apiserver (the node's identity)."""
        return self.dir / "kubelet.crt", self.dir / "kubelet.key"

    @property
    def scheduler_client(self) -> tuple[Path, Path]:
        return self.dir / "scheduler.crt", self.dir / "scheduler.key"

    @property
    def apiserver_kubelet_client(self) -> tuple[Path, Path]:
        """The apiserver's client certificate towards kubelets (logs, exec)."""
        return self.dir / "apiserver-kubelet-client.crt", self.dir / "apiserver-kubelet-client.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertError("the `openssl` command is missing; install it (Debian: apt-get install openssl)")
    result = subprocess.run(
        [openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")


def _key(name: str, cwd: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=cwd)


def _ca(name: str, common_name: str, cwd: Path) -> None:
    _key(name, cwd)
    _openssl(
        "req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/O=nylas-operator-dev/CN={common_name}",
        "-days", str(VALIDITY_DAYS), "-out", f"{name}.crt", cwd=cwd,
    )  # fmt: skip


def _signed(name: str, subject: str, ca: str, ext: str, cwd: Path) -> None:
    _key(name, cwd)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    (cwd / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-days", str(VALIDITY_DAYS), "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=cwd,
    )  # fmt: skip
    (cwd / f"{name}.csr").unlink()
    (cwd / f"{name}.ext").unlink()


def make_certs(directory: Path) -> CertPaths:
    """Write a fresh set of CAs, certificates and keys into ``directory`` (created 0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _ca("serving-ca", "nylas-operator-dev-serving-ca", directory)
    _ca("client-ca", "nylas-operator-dev-client-ca", directory)
    _signed("apiserver", "/CN=localhost", "serving-ca", _SERVER_EXT, directory)
    _signed("admin", "/O=system:masters/CN=admin", "client-ca", _CLIENT_EXT, directory)
    _key("sa", directory)
    _openssl("ec", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)
    return CertPaths(directory)


def make_node_certs(paths: CertPaths, node_name: str) -> None:
    """Client certificates of a node's components, from the client CA of ``make_certs``."""
    directory = paths.dir
    _signed("kubelet", f"/O=system:nodes/CN=system:node:{node_name}", "client-ca", _CLIENT_EXT, directory)
    _signed("scheduler", "/CN=system:kube-scheduler", "client-ca", _CLIENT_EXT, directory)
    _signed(
        "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "client-ca",
        _CLIENT_EXT, directory,
    )  # fmt: skip
