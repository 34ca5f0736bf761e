"""Which cluster, which credentials and which namespace, the way kubectl decides them.

Owns: reading kubeconfig files (``--kubeconfig``, else ``$KUBECONFIG`` merged first-wins, else
``~/.kube/config``), choosing the context (``--context``, else ``current-context``), relative paths
resolved against the file that names them, a cluster's ``proxy-url``, tokens, token files, client
certificates, basic auth and exec credential plugins (client.authentication.k8s.io, as EKS, GKE and
AKS use), and the in-cluster service account when no kubeconfig exists. The result is a
``kopf.ConnectionInfo``, whose TLS context and headers the operator itself uses (``kube.py``).

Credentials never appear in errors: they name files, contexts and commands only.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import yaml

from nylas_operator.login import in_cluster_server

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT = 60.0


class ConfigError(Exception):
    """The kubeconfig cannot be used; the message says which file, context or field."""


@dataclass(frozen=True)
class Target:
    info: kopf.ConnectionInfo
    namespace: str
    """The context's namespace, else ``default`` (what ``-n`` overrides)."""
    context: str | None


def _files(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    default = Path.home() / ".kube" / "config"
    return [default] if default.exists() else []


def _relative(base: Path, value: Any) -> str | None:
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return str(path if path.is_absolute() else base.parent / path)


def load(kubeconfig: str | None = None, context: str | None = None) -> Target:
    """The connection for ``context`` of ``kubeconfig`` (see the module docstring for defaults)."""
    files = _files(kubeconfig)
    if not files:
        server = in_cluster_server(os.environ)
        if context is None and server and (SERVICE_ACCOUNT_DIR / "token").exists():
            return _in_cluster(server)
        raise ConfigError("no kubeconfig: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config")
    current: str | None = None
    found: dict[str, dict[str, tuple[Path, dict[str, Any]]]] = {"contexts": {}, "clusters": {}, "users": {}}
    inner = {"contexts": "context", "clusters": "cluster", "users": "user"}
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            if kubeconfig:
                raise ConfigError(f"kubeconfig {path} does not exist") from None
            continue  # kubectl skips missing files of $KUBECONFIG
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"kubeconfig {path} cannot be read: {type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {path} is not a mapping")
        current = current or doc.get("current-context") or None
        for section, key in inner.items():
            for item in doc.get(section) or []:
                if isinstance(item, dict) and item.get("name") and item["name"] not in found[section]:
                    found[section][str(item["name"])] = (path, dict(item.get(key) or {}))
    name = context or current
    if not name:
        raise ConfigError("no context: pass --context or set current-context in the kubeconfig")
    if name not in found["contexts"]:
        raise ConfigError(f"context {name!r} is not in the kubeconfig")
    _, ctx = found["contexts"][name]
    if ctx.get("cluster") not in found["clusters"]:
        raise ConfigError(f"context {name!r} names cluster {ctx.get('cluster')!r}, which is not defined")
    cluster_file, cluster = found["clusters"][str(ctx["cluster"])]
    user_file, user = found["users"].get(str(ctx.get("user")), (cluster_file, {}))
    if not cluster.get("server"):
        raise ConfigError(f"cluster {ctx['cluster']!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token_path = _relative(user_file, user["tokenFile"])
        try:
            token = Path(str(token_path)).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"user of context {name!r}: tokenFile {token_path} cannot be read") from None
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    if not token and isinstance(user.get("exec"), Mapping):
        creds = _exec(user["exec"], user_file, name)
        token = creds.get("token")
        cert_data = _pem(creds.get("clientCertificateData")) or cert_data
        key_data = _pem(creds.get("clientKeyData")) or key_data
    try:
        info = kopf.ConnectionInfo(
            server=str(cluster["server"]),
            ca_path=_relative(cluster_file, cluster.get("certificate-authority")),
            ca_data=cluster.get("certificate-authority-data"),
            insecure=cluster.get("insecure-skip-tls-verify"),
            certificate_path=_relative(user_file, user.get("client-certificate")),
            certificate_data=cert_data,
            private_key_path=_relative(user_file, user.get("client-key")),
            private_key_data=key_data,
            username=user.get("username"),
            password=user.get("password"),
            token=token,
            default_namespace=ctx.get("namespace"),
            proxy_url=cluster.get("proxy-url"),
        )
    except ValueError as exc:  # both a path and data for one item
        raise ConfigError(f"context {name!r}: {exc}") from None
    return Target(info=info, namespace=str(ctx.get("namespace") or "default"), context=name)


def _pem(pem: Any) -> str | None:
    """Exec plugins return PEM text, which kopf takes as it is (like base64)."""
    return str(pem) if pem else None


def _exec(spec: Mapping[str, Any], base: Path, context: str) -> dict[str, Any]:
    """Run a client-go exec credential plugin and return its ``status``."""
    command = spec.get("command")
    if not command:
        raise ConfigError(f"user of context {context!r}: exec has no command")
    api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    program = str(command)
    if "/" in program and not Path(program).is_absolute():
        program = str(base.parent / program)
    env = dict(os.environ)
    for item in spec.get("env") or []:
        if isinstance(item, Mapping) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    try:
        result = subprocess.run(
            [program, *[str(a) for a in spec.get("args") or []]],
            env=env,
            capture_output=True,
            text=True,
            timeout=EXEC_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"exec credential plugin {command!r} failed: {type(exc).__name__}") from None
    if result.returncode != 0:
        raise ConfigError(f"exec credential plugin {command!r} exited with {result.returncode}")
    try:
        status = json.loads(result.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise ConfigError(f"exec credential plugin {command!r} printed no ExecCredential") from None
    if not isinstance(status, dict):
        raise ConfigError(f"exec credential plugin {command!r} printed no ExecCredential status")
    return status


def _in_cluster(server: str) -> Target:
    """The pod's ServiceAccount, as the operator logs in (``login.in_cluster_server``)."""
    token = (SERVICE_ACCOUNT_DIR / "token").read_text(encoding="utf-8").strip()
    ns_file = SERVICE_ACCOUNT_DIR / "namespace"
    namespace = ns_file.read_text(encoding="utf-8").strip() if ns_file.exists() else "default"
    ca = SERVICE_ACCOUNT_DIR / "ca.crt"
    info = kopf.ConnectionInfo(server=server, ca_path=str(ca) if ca.exists() else None, token=token)
    return Target(info=info, namespace=namespace, context=None)
