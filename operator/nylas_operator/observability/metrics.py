"""Prometheus metrics of the operator, on a dedicated ``CollectorRegistry``.

Owns: metric names, label sets, buckets and small typed recorders. Does not own: serving
(``health.make_metrics_app``) or deciding when to record (controllers, runner, Nylas client hook).

Names follow Prometheus's naming guide: base units in the name (``_seconds``), counters end in
``_total``, Unix times in ``_timestamp_seconds``, ``nylas_operator_build_info`` is a constant 1 whose
labels say what runs; the process and Python collectors of prometheus_client (``process_*``,
``python_*``) sit beside ours on the same registry.

Labels carry only bounded vocabularies: kinds, phases, results, reasons (CamelCase tokens), HTTP
methods, status codes, path templates, resource names. Never object names, emails, ids or secrets:
anything that does not look like a bounded token is replaced by ``other``.
"""

from __future__ import annotations

import logging
import platform
import re
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nylas_operator import __version__
from nylas_operator.observability.endpoints import endpoint_template

log = logging.getLogger("nylas_operator.observability")

PREFIX = "nylas_operator"
OTHER = "other"
# A label token: a short identifier (Ready, AwaitingConsent, success, NylasConnector, v1/secrets).
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]{0,63}")
_STATUS = re.compile(r"[1-5][0-9]{2}|[a-z_]{1,32}")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RECONCILE_BUCKETS = REQUEST_BUCKETS  # a reconcile is a few apiserver and Nylas requests
CONSENT_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)
SETTLE_BUCKETS = (30.0, 60.0, 120.0, 300.0, 330.0, 360.0, 600.0, 900.0, 1800.0, 3600.0)

ObjectCounts = Mapping[tuple[str, str], int]  # (kind, phase) -> number of objects


def label(value: str | None) -> str:
    """``value`` if it is a bounded token, else ``other`` (privacy and cardinality guard)."""
    return value if value is not None and _TOKEN.fullmatch(value) else OTHER


class Metrics:
    """All operator metrics, registered on ``registry`` (a fresh one by default).

    ``commit`` is the git commit of the build (``nylas_operator_build_info``'s ``commit`` label).
    ``runtime_collectors`` adds prometheus_client's process, platform and GC collectors (off only
    when ``registry`` already has them).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        commit: str = "unknown",
        runtime_collectors: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        if runtime_collectors:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.build_info = Gauge(
            f"{PREFIX}_build_info",
            "Always 1; the labels say which build runs.",
            ["version", "commit", "python"],
            registry=r,
        )
        self.build_info.labels(version=__version__, commit=commit, python=platform.python_version()).set(1)
        self.reconcile_duration = Histogram(
            f"{PREFIX}_reconcile_duration_seconds",
            "Duration of reconciles by kind, including the status write.",
            ["kind"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.reconcile_total = Counter(
            f"{PREFIX}_reconcile", "Reconcile runs by kind and result.", ["kind", "result"], registry=r
        )
        self.reconcile_errors_total = Counter(
            f"{PREFIX}_reconcile_errors",
            "Reconcile errors by kind and reason.",
            ["kind", "reason"],
            registry=r,
        )
        self.deletion_failures_total = Counter(
            f"{PREFIX}_deletion_failures",
            "Failed Nylas deletes of deletionPolicy Delete objects (each is retried) by kind and reason.",
            ["kind", "reason"],
            registry=r,
        )
        self.nylas_requests_total = Counter(
            f"{PREFIX}_nylas_requests",
            "Nylas API request attempts by endpoint template, method and status (or transport error).",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.nylas_request_duration = Histogram(
            f"{PREFIX}_nylas_request_duration_seconds",
            "Duration of Nylas API request attempts.",
            ["endpoint", "method"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.consent_wait = Histogram(
            f"{PREFIX}_consent_wait_seconds",
            "Time from a consent URL being issued to the consent being recorded.",
            ["kind"],
            buckets=CONSENT_BUCKETS,
            registry=r,
        )
        self.settle_wait = Histogram(
            f"{PREFIX}_settle_wait_seconds",
            "Time from consent being recorded to the grant being created (the scope-cache wait).",
            ["kind"],
            buckets=SETTLE_BUCKETS,
            registry=r,
        )
        self.watch_last_event = Gauge(
            f"{PREFIX}_watch_last_event_timestamp_seconds",
            "Unix time of the last watch event seen per resource.",
            ["resource"],
            registry=r,
        )
        self.events_dropped_total = Counter(
            f"{PREFIX}_events_dropped",
            "Kubernetes Events not posted because the operator's event queue was full.",
            registry=r,
        )
        self._objects = _ObjectsCollector()
        r.register(self._objects)
        self._blocked = _BlockedCollector()
        r.register(self._blocked)

    def record_reconcile(self, kind: str, result: str) -> None:
        """One reconcile run; ``result`` e.g. ``success``, ``error``, ``waiting``, ``paused``."""
        self.reconcile_total.labels(kind=label(kind), result=label(result)).inc()

    def observe_reconcile_duration(self, kind: str, seconds: float) -> None:
        self.reconcile_duration.labels(kind=label(kind)).observe(max(seconds, 0.0))

    def record_reconcile_error(self, kind: str, reason: str) -> None:
        """One failed reconcile; ``reason`` is the condition reason (``Unauthorized``, ``RateLimited``)."""
        self.reconcile_errors_total.labels(kind=label(kind), reason=label(reason)).inc()

    def record_deletion_failure(self, kind: str, reason: str) -> None:
        """One failed Nylas delete; ``reason`` is the failure's class (``NylasUnavailable``, ...)."""
        self.deletion_failures_total.labels(kind=label(kind), reason=label(reason)).inc()

    def observe_nylas_request(self, endpoint: str, method: str, status: int | str, seconds: float, /) -> None:
        """The Nylas client's ``RequestObserver`` hook: one call per HTTP attempt."""
        template = endpoint_template(endpoint)
        verb = method.upper() if method.upper() in _METHODS else OTHER
        code = str(status)
        code = code if _STATUS.fullmatch(code) else OTHER
        self.nylas_requests_total.labels(endpoint=template, method=verb, status=code).inc()
        self.nylas_request_duration.labels(endpoint=template, method=verb).observe(max(seconds, 0.0))

    def observe_consent_wait(self, kind: str, seconds: float) -> None:
        self.consent_wait.labels(kind=label(kind)).observe(max(seconds, 0.0))

    def observe_settle_wait(self, kind: str, seconds: float) -> None:
        self.settle_wait.labels(kind=label(kind)).observe(max(seconds, 0.0))

    def note_watch_event(self, resource: str, *, at: float | None = None) -> None:
        """Stamp the last event time for ``resource`` (e.g. ``servicegrants``); ``at`` is Unix time."""
        self.watch_last_event.labels(resource=label(resource)).set(time.time() if at is None else at)

    def set_objects_source(self, source: Callable[[], ObjectCounts] | None) -> None:
        """Serve ``nylas_operator_objects{kind,phase}`` from ``source()``, called at every scrape.

        The source must be cheap and non-blocking (an in-memory count kept by the controllers).
        """
        self._objects.source = source

    def set_blocked_source(self, source: Callable[[], Mapping[str, int]] | None) -> None:
        """Serve ``nylas_operator_deletions_blocked{kind}`` from ``source()`` (kind → number of
        objects being deleted whose Nylas delete failed last), called at every scrape."""
        self._blocked.source = source


class _BlockedCollector(Collector):
    NAME = f"{PREFIX}_deletions_blocked"
    HELP = "Objects being deleted whose last Nylas delete failed (their finalizer stays; retried)."

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[str, int]] | None = None

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["kind"])

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["kind"])
        try:
            counts = self.source() if self.source is not None else {}
        except Exception:  # a broken snapshot must not break the whole scrape
            log.warning("The blocked deletions snapshot failed.", exc_info=True)
            counts = {}
        totals: dict[str, float] = {}
        for kind, count in counts.items():
            totals[label(kind)] = totals.get(label(kind), 0.0) + float(count)
        for kind, value in sorted(totals.items()):
            family.add_metric([kind], value)
        yield family


class _ObjectsCollector(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], ObjectCounts] | None = None

    def describe(self) -> Iterator[Metric]:
        # Describing without calling the source keeps registration side-effect free.
        yield GaugeMetricFamily(f"{PREFIX}_objects", "Objects by kind and phase.", labels=["kind", "phase"])

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_objects", "Objects by kind and phase.", labels=["kind", "phase"]
        )
        if self.source is not None:
            try:
                counts = self.source()
            except Exception:  # a broken snapshot must not break the whole scrape
                log.warning("The object count snapshot failed.", exc_info=True)
                counts = {}
            totals: dict[tuple[str, str], float] = {}
            for (kind, phase), count in counts.items():
                key = (label(kind), label(phase or "Unknown"))
                totals[key] = totals.get(key, 0.0) + float(count)
            for (kind, phase), value in sorted(totals.items()):
                family.add_metric([kind, phase], value)
        yield family
