"""Where the operator's Kubernetes credentials come from, and keeping them valid while it runs.

Owns: choosing the source (``CredentialSource.from_environment``), reading it, re-reading it, and
the two consumers' refresh rules: kopf's login handler (``for_kopf``) and the operator's own httpx
client (``BearerAuth``). Does not own: any request (``kube.py``, kopf).

Sources, in client-go's order:
- In a Pod: ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT`` both set (client-go's
  ``InClusterConfig`` requires both) and a token file. Server ``https://host:port`` (an IPv6 host in
  brackets, as Go's ``net.JoinHostPort``), token and CA from the ServiceAccount directory
  (``NYLAS_OPERATOR_SERVICE_ACCOUNT_DIR`` overrides ``/var/run/secrets/kubernetes.io/serviceaccount``
  for tests and unusual mounts). Kubelet rewrites a projected token file at 80 % of the token's life;
  like client-go the file is re-read at most every ``TOKEN_RELOAD_SECONDS``, and at once on a 401.
- Else the kubeconfig (``KUBECONFIG``, else ``~/.kube/config``): kopf's parser when the user holds
  a token, a client certificate or a password; otherwise (an ``exec`` plugin as EKS/GKE/AKS write,
  an auth provider, a ``tokenFile``) the ``kubernetes`` package's loader, imported only then (kopf
  would import it eagerly, +9 MB RSS per process: ``nylas_operator/__init__.py`` stops that). An
  exec plugin is run again when the apiserver answers 401.

Tokens are never logged; the texts here name files and servers only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import httpx
import kopf

log = logging.getLogger("nylas_operator.login")

SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_DIR_ENV: Final = "NYLAS_OPERATOR_SERVICE_ACCOUNT_DIR"
TOKEN_RELOAD_SECONDS: Final = 60.0  # client-go's cached file token source re-reads every minute
RELOGIN_WAIT_SECONDS: Final = 10.0
"""A refused token with no new one in the file: wait this long for kubelet to write one, then let
kopf try again (one attempt per this period, never a hot loop)."""


class LoginError(kopf.LoginError):
    """No usable credentials; the text says which source and why (never a token)."""


def in_cluster_server(env: Mapping[str, str]) -> str | None:
    """``https://host:port`` from the two service variables, None unless both are set."""
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = env.get("KUBERNETES_SERVICE_PORT", "").strip()
    if not host or not port:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal, as net.JoinHostPort writes it
    return f"https://{host}:{port}"


def _has_auth(info: kopf.ConnectionInfo) -> bool:
    return bool(
        info.token or info.certificate_path or info.certificate_data or info.username or info.password
    )


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LoginError(f"cannot read the ServiceAccount token {path}: {exc.strerror}") from None
    if not token:
        raise LoginError(f"the ServiceAccount token file {path} is empty")
    return token


class CredentialSource:
    """One place that knows the current credentials; both Kubernetes clients ask it.

    ``load`` reads the source (blocking: a file, or an exec plugin); ``max_age`` is how long a
    loaded result may be used before it is read again without being asked (None: only on 401).
    """

    def __init__(
        self,
        load: Callable[[], kopf.ConnectionInfo],
        *,
        describe: str,
        max_age: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self.describe = describe
        self._max_age = max_age
        self._clock = clock
        self._info: kopf.ConnectionInfo | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._given_to_kopf: kopf.ConnectionInfo | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> CredentialSource:
        env = os.environ if env is None else env
        server = in_cluster_server(env)
        directory = Path(env.get(SERVICE_ACCOUNT_DIR_ENV) or SERVICE_ACCOUNT_DIR)
        if server is not None and (directory / "token").exists():
            return cls.service_account(server, directory)
        return cls.kubeconfig()

    @classmethod
    def service_account(cls, server: str, directory: Path) -> CredentialSource:
        ca = directory / "ca.crt"
        namespace_file = directory / "namespace"
        namespace = namespace_file.read_text().strip() if namespace_file.exists() else None

        def load() -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(
                server=server,
                ca_path=str(ca) if ca.exists() else None,
                token=_read_token(directory / "token"),
                default_namespace=namespace or None,
            )

        return cls(load, describe=f"service account at {server}", max_age=TOKEN_RELOAD_SECONDS)

    @classmethod
    def kubeconfig(cls) -> CredentialSource:
        def load() -> kopf.ConnectionInfo:
            settings = kopf.OperatorSettings()
            try:
                info = kopf.login_with_kubeconfig(settings=settings)
            except (OSError, KeyError, ValueError) as exc:
                raise LoginError(f"cannot read the kubeconfig: {type(exc).__name__}: {exc}") from None
            if info is None:
                raise LoginError(
                    "no credentials: not in a Pod (KUBERNETES_SERVICE_HOST/PORT and a token) "
                    "and no kubeconfig (KUBECONFIG or ~/.kube/config)"
                )
            if _has_auth(info):
                return info
            return load_with_kubernetes_client()

        return cls(load, describe="kubeconfig", max_age=None)

    @classmethod
    def static(cls, info: kopf.ConnectionInfo) -> CredentialSource:
        """Fixed credentials (tests; a caller that already has them)."""
        return cls(lambda: info, describe=f"given credentials for {info.server}", max_age=None)

    async def current(self) -> kopf.ConnectionInfo:
        """The credentials to use now (read again when older than ``max_age``)."""
        async with self._lock:
            stale = self._max_age is not None and self._clock() - self._loaded_at >= self._max_age
            if self._info is None or stale:
                await self._reload()
            assert self._info is not None
            return self._info

    async def renew(self, refused_token: str | None) -> kopf.ConnectionInfo:
        """After a 401 with ``refused_token``: read the source again unless someone already did."""
        async with self._lock:
            if self._info is None or self._info.token == refused_token:
                await self._reload()
            assert self._info is not None
            return self._info

    async def _reload(self) -> None:
        self._info = await asyncio.to_thread(self._load)
        self._loaded_at = self._clock()

    async def for_kopf(self) -> kopf.ConnectionInfo:
        """kopf's login handler. kopf logs in again only after a 401 (or a closed session): then a
        new token is read; the same token again is given back only after ``RELOGIN_WAIT_SECONDS``
        and made distinct (kopf keeps refusing a ConnectionInfo equal to one it saw fail)."""
        previous = self._given_to_kopf
        if previous is None:
            info = await self.current()
        else:
            info = await self.renew(previous.token)
            deadline = self._clock() + RELOGIN_WAIT_SECONDS
            while info.token == previous.token and self._clock() < deadline:
                await asyncio.sleep(1.0)
                info = await self.renew(previous.token)
            if info.token == previous.token:
                log.warning("the apiserver refused the credentials of the %s; trying again", self.describe)
                # A far expiration only makes it distinct; kopf logs in again on the next 401.
                info = _replace(info, expiration=_far_future())
            else:
                log.info("logged in again with new credentials from the %s", self.describe)
        self._given_to_kopf = info
        return info


def _far_future() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)


def _replace(info: kopf.ConnectionInfo, **changes: Any) -> kopf.ConnectionInfo:
    return dataclasses.replace(info, **changes)


def load_with_kubernetes_client() -> kopf.ConnectionInfo:
    """The kubeconfig through the ``kubernetes`` package (exec plugins, auth providers, token files).

    Imported here only: most users (a Pod, a kubeconfig with a token or certificate) never pay for it.
    """
    if "kubernetes" in sys.modules and sys.modules["kubernetes"] is None:
        del sys.modules["kubernetes"]  # blocked for kopf's eager import (nylas_operator/__init__.py)
    try:
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config
    except ImportError as exc:  # pragma: no cover - a dependency; only a broken install lacks it
        raise LoginError(f"the kubeconfig needs the `kubernetes` package: {exc}") from None
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration, persist_config=False
        )
    except (k8s_config.ConfigException, OSError) as exc:
        raise LoginError(f"cannot load the kubeconfig: {exc}") from None
    header = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken") or ""
    scheme, _, token = header.partition(" ") if " " in header else ("Bearer", "", header)
    info = kopf.ConnectionInfo(
        server=str(configuration.host),
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None if token else None,
        token=token or None,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        username=configuration.username or None,
        password=configuration.password or None,
    )
    if not _has_auth(info):
        raise LoginError("the kubeconfig's user gave no token or certificate (did the exec plugin fail?)")
    return info


class BearerAuth(httpx.Auth):
    """The operator's own client: the current token on every request; on a 401, the source is read
    again and the request sent once more if that gave a different token."""

    def __init__(self, source: CredentialSource) -> None:
        self._source = source

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        info = await self._source.current()
        _authorize(request, info)
        response = yield request
        if response.status_code != 401 or not info.token:
            return
        fresh = await self._source.renew(info.token)
        if fresh.token and fresh.token != info.token:
            log.info("the apiserver refused the token; using the new one from the %s", self._source.describe)
            _authorize(request, fresh)
            yield request


def tls_verify(info: kopf.ConnectionInfo) -> Any:
    """httpx's ``verify`` for ``info``: its CA and client certificate, or off when it says insecure."""
    return False if info.insecure else info.as_ssl_context()


def _authorize(request: httpx.Request, info: kopf.ConnectionInfo) -> None:
    for name, value in info.as_http_headers().items():
        request.headers[name] = value
