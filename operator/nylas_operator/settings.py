"""The operator's settings: grouped, documented, frozen, built once from the command line.

Owns: every tunable of the running operator and its default, with units and trade-offs next to
each field. Does not own: parsing the command line (``runner.py``), nor the Nylas client's own
transport defaults (``nylas/settings.py``; ``NylasSettings.client()`` builds those from here), nor
kopf's settings (tuned in ``runner.py``'s startup handler).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import httpx

from nylas_operator import nylas
from nylas_operator.entra import DEFAULT_LOGIN_HOSTS, DEFAULT_LOGIN_URL
from nylas_operator.nylas.hosts import DEFAULT_ALLOWED_HOSTS

LogFormat = Literal["text", "json"]


@dataclass(frozen=True)
class NylasSettings:
    """How the operator talks to Nylas."""

    timeout: float = 30.0
    """Seconds per HTTP attempt (connect is capped at 5 s). kopf never cancels a handler, so a hung
    call would block that object's worker: every call must time out."""
    max_attempts: int = 3
    """In-process attempts per call, the first included. More retries happen across reconciles,
    with the operator's own backoff (``RetrySettings``), so keep this small."""
    rate: float = 50.0
    """Requests per second per Nylas application, shared by every object of that application.
    Nylas allows 50/s per application for grants, connectors and authentication; lower it when
    other users of the same application need a share (``--nylas-rate``). A 429 is still honoured."""
    burst: int = 10
    """Requests allowed back to back before pacing starts (``--nylas-burst``)."""
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    """Hosts a connector's ``apiUrl`` may name (``--nylas-allowed-hosts``): the API key and the
    provider's client secret go there. Default: the Nylas regions plus loopback (the emulator)."""

    def client(self) -> nylas.NylasSettings:
        return nylas.NylasSettings(
            timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.timeout), pool=10.0),
            retry=nylas.RetryPolicy(max_attempts=self.max_attempts, deadline=self.timeout * 2),
            rate=self.rate,
            burst=self.burst,
            # One attempt, from sending to the last byte: two per-read timeouts.
            attempt_deadline=self.timeout * 2,
            allowed_hosts=self.allowed_hosts,
        )


@dataclass(frozen=True)
class ConsentSettings:
    """Microsoft admin consent."""

    scope_cache_delay: timedelta = timedelta(minutes=5)
    """Default wait between a recorded consent and the first grant creation (Microsoft caches
    scopes). A credential's or grant's ``scopeCacheDelay`` overrides it."""
    state_ttl: timedelta = timedelta(hours=1)
    """How long a consent URL's state stays valid; an expired URL is replaced by a new one. Short:
    whoever may read the credential's status holds the URL (docs/security.md)."""
    callback_url: str | None = None
    """Public URL of the callback endpoint, used as ``redirect_uri``. None: no operator-made
    consent URL unless the credential sets ``redirectUri`` (consent is then recorded by annotation)."""
    callback_listen: tuple[str, int] | None = None
    """Where the callback endpoint listens; None disables it."""
    register_callback_url: bool = False
    """Opt-in: add ``callback_url`` to the Nylas application's redirect URIs when it is missing
    (otherwise the credential only reports the URL to register)."""
    confirm: bool = False
    """``--confirm-consent``: before grants are created, ask Microsoft's token endpoint for a
    client-credentials token for the consenting tenant (with the Azure app secret the operator
    already holds) and require its ``roles`` to cover the consented scopes. Off by default: it
    needs egress from the operator to the login host (and the right host in sovereign clouds),
    and turning it on in a running installation must be a choice (docs/security.md)."""
    login_url: str = DEFAULT_LOGIN_URL
    """Microsoft's login endpoint (``--microsoft-login-url``); sovereign clouds differ."""
    login_allowed_hosts: tuple[str, ...] = DEFAULT_LOGIN_HOSTS
    """Hosts ``login_url`` may name (``--microsoft-allowed-hosts``): the Azure client secret goes
    there. Default: Microsoft's global, US Government and China login hosts, plus loopback."""
    confirm_timeout: timedelta = timedelta(hours=1)
    """How long after the settle wait a consent Microsoft keeps refusing to confirm is kept
    (``--consent-confirm-timeout``); then it is dropped and a new consent URL is issued."""
    login_deadline: float = 30.0
    """Seconds one token request may take, from sending to the last byte."""


@dataclass(frozen=True)
class DriftSettings:
    """The per-application loop that compares Nylas's grants with the Ready grant objects."""

    interval: timedelta = timedelta(minutes=10)
    """Time between two drift passes of one application (each pass pages ``GET /v3/grants``)."""
    jitter: float = 0.2
    """Each wait is ``interval * (1 ± jitter)`` so that applications do not poll in lockstep."""


@dataclass(frozen=True)
class RetrySettings:
    """The operator's own backoff for failed reconciles (after the client's in-process retries)."""

    min_delay: timedelta = timedelta(seconds=5)
    """First retry delay; it doubles per consecutive failure of the same object."""
    max_delay: timedelta = timedelta(minutes=5)
    """Cap of the backoff. A Secret change or a spec change wakes the object earlier anyway."""
    jitter: float = 0.3
    """Fraction of each delay that is randomised, so that objects failing together spread out."""
    deletion_give_up: timedelta = timedelta(minutes=10)
    """How long a ``Delete`` deletion that has no API key of its own connector left (its Secret and
    the operator's cached client both gone, ``SecretNotFound``) waits for the Secret to come back
    before it orphans the Nylas object (with a Warning event). Nothing else gives up: a failing
    Nylas delete keeps its finalizer and retries with backoff (``decide_deletion.py``)."""


@dataclass(frozen=True)
class ServerSettings:
    """The operator's own HTTP endpoints besides the consent callback."""

    health_listen: tuple[str, int] | None = ("0.0.0.0", 8080)  # noqa: S104 - a pod's probe port
    """Liveness and readiness (``/healthz``, ``/readyz``); None disables them."""
    metrics_listen: tuple[str, int] | None = None
    """Prometheus metrics (``/metrics``); None disables it."""


@dataclass(frozen=True)
class CanarySettings:
    """The liveness canary: a token written to a ConfigMap must come back through kopf's watch."""

    enabled: bool = True
    """Off: liveness only checks that startup finished (no ConfigMap, no ConfigMap RBAC needed)."""
    namespace: str | None = None
    """Where the ConfigMap lives; it must be a served namespace (kopf watches only those). None:
    no canary (the runner finds none with ``--all-namespaces`` outside a pod)."""
    interval: timedelta = timedelta(seconds=60)
    """Time between two token writes (one small PATCH each)."""
    deadline: timedelta = timedelta(seconds=30)
    """A written token not seen through the watch after this long fails liveness. Keep it above
    the apiserver's watch latency under load, and below the probe's failure window."""


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    """Python log level of the operator and kopf."""
    format: LogFormat = "text"
    """``json`` for log collectors, ``text`` for humans."""


@dataclass(frozen=True)
class WatchSettings:
    namespaces: tuple[str, ...] = ()
    """Namespaces served; empty with ``all_namespaces`` false means the current context's namespace
    is not guessed: the runner refuses to start."""
    all_namespaces: bool = False


@dataclass(frozen=True)
class ProcessingSettings:
    max_concurrent_reconciles: int = 1000
    """Objects of one kind reconciled at once (``--max-concurrent-reconciles``); the others wait
    with just their latest event. Bounds memory on bulk applies (each reconcile waiting for the
    Nylas budget holds a full handler context)."""


@dataclass(frozen=True)
class LeaderElectionSettings:
    """One acting replica among several, through a ``coordination.k8s.io`` Lease (``leader.py``).
    Defaults are client-go's and controller-runtime's."""

    enabled: bool = False
    """Off: the operator acts at once (one replica, Deployment strategy Recreate)."""
    namespace: str | None = None
    """Where the Lease lives (default: the Pod's namespace, ``POD_NAMESPACE``)."""
    name: str = "nylas-operator"
    """The Lease's name: replicas of one installation share it; two installations must not."""
    lease_duration: timedelta = timedelta(seconds=15)
    """A standby takes a Lease not renewed for this long: the failover time after a crash."""
    renew_deadline: timedelta = timedelta(seconds=10)
    """A leader that could not renew for this long stops writing and exits (below the duration:
    the difference is the margin for a write already on the wire)."""
    retry_period: timedelta = timedelta(seconds=2)
    """Time between two renewals (leader) or two tries (standby)."""


@dataclass(frozen=True)
class OperatorSettings:
    nylas: NylasSettings = field(default_factory=NylasSettings)
    consent: ConsentSettings = field(default_factory=ConsentSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    canary: CanarySettings = field(default_factory=CanarySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    processing: ProcessingSettings = field(default_factory=ProcessingSettings)
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) → ``(host, port)``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - explicit ":PORT" means all


@dataclass(frozen=True)
class ConsentServerSettings:
    """``nylas-operator consent-server``: the public consent callback as its own process."""

    listen: tuple[str, int] = ("0.0.0.0", 8081)  # noqa: S104 - a pod serves on every interface
    """Where the callback listens."""
    health_listen: tuple[str, int] | None = None
    """Where ``/healthz`` and ``/readyz`` listen (kubelet probes); None disables them."""
    watch: WatchSettings = field(default_factory=WatchSettings)
    """Whose NylasCredentials the callback may record consent for."""
    scope_cache_delay: timedelta = timedelta(minutes=5)
    """Only shown on the page (when grants will be created); the operator decides the real wait."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed (``consent.clientaddr``)."""
    max_connections: int = 256
    """Open connections at most; idle ones are closed first to make room (``consent.guard``)."""
    header_timeout: timedelta = timedelta(seconds=10)
    """Time a client has to send its request line and headers."""
    refresh_interval: float = 1.0
    """Seconds between two LISTs of credentials when a callback names an unknown state: unknown
    states (forged or not yet seen) cannot make the server LIST more often than this."""
    logging: LoggingSettings = field(default_factory=LoggingSettings)
