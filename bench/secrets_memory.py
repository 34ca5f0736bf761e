"""The Secret watch's memory with many unrelated Secrets (issue #13).

A real control plane; one namespace with ``--n`` unrelated Secrets (4 KiB of data each) and two
that a connector references. Each design runs in its own process (``ru_maxrss`` and the
allocator's high-water mark are per process):

- ``new``: the operator's ``SecretWatch`` (metadata-only LIST, then its cache after reading the two
  referenced Secrets, as a reconcile does).
- ``old``: what the previous design did for every Secret: full bodies paged by 500 (kopf's
  ``chunk_size``), a keyed digest of each one's data and its resourceVersion kept per Secret. This
  is a lower bound of the old operator: kopf's per-object event workers are not included.

Printed per design: tracemalloc growth retained after the listing, tracemalloc peak during it, and
RSS growth. Target: the new design retains <= 5 MiB (a fixed ~1.3 MiB is the client itself: TLS context,
connections) and its peak stays <= 10 MiB at 10,000 Secrets.

Run: ``.venv/bin/python -m bench.secrets_memory`` (``--n 10000``). Not a timed test.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import Verdict, at_most, mb, parser, report, rss_bytes
from bench.kube import KubeClient, bounded
from nylas_operator.devcluster.build import ensure_binaries
from nylas_operator.devcluster.controlplane import ControlPlane

NAMESPACE = "secrets-memory"
VALUE = "v" * 4096
RETAINED_TARGET_MIB = 5.0
PEAK_TARGET_MIB = 10.0


async def _populate(kubeconfig: Path, n: int) -> float:
    started = time.monotonic()
    async with KubeClient(kubeconfig, connections=32) as kube:
        await kube.create_namespace(NAMESPACE)
        jobs = [
            (lambda i=i: kube.create_secret(NAMESPACE, f"unrelated-{i:05d}", {"data": VALUE}))
            for i in range(n)
        ]
        jobs += [
            (lambda name=name: kube.create_secret(NAMESPACE, name, {"value": f"{name}-value"}))
            for name in ("api-key", "client-secret")
        ]
        await bounded(32, jobs)
    return time.monotonic() - started


async def _new() -> None:
    from nylas_operator.controllers.scheduler import Scheduler
    from nylas_operator.controllers.secrets_watch import SecretWatch
    from nylas_operator.kube import CONNECTORS, Kube
    from nylas_operator.login import CredentialSource

    credentials = CredentialSource.kubeconfig()
    kube = Kube(await credentials.current(), credentials=credentials)
    kube.cache.put(
        CONNECTORS,
        {
            "metadata": {"namespace": NAMESPACE, "name": "google", "resourceVersion": "1"},
            "spec": {
                "application": {"apiKeySecretRef": {"name": "api-key", "key": "value"}},
                "providerApp": {"clientSecretRef": {"name": "client-secret", "key": "value"}},
            },
        },
    )
    watch = SecretWatch(kube, Scheduler(workers=1), NAMESPACE)
    await _measure(lambda: _new_work(kube, watch))
    await kube.aclose()


async def _new_work(kube: Any, watch: Any) -> None:
    await watch.list(first=True)
    for name in ("api-key", "client-secret"):
        assert await kube.read_secret(NAMESPACE, name) is not None


async def _old() -> None:
    from nylas_operator.kube import Kube
    from nylas_operator.login import CredentialSource

    credentials = CredentialSource.kubeconfig()
    kube = Kube(await credentials.current(), credentials=credentials)
    key = os.urandom(32)
    digests: dict[tuple[str, str], bytes] = {}
    seen: dict[tuple[str, str, str], str] = {}

    async def work() -> None:
        token = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"continue": token} if token else {})}
            path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
            doc = (await kube._request("GET", path, params=params)).json()
            for item in doc["items"]:
                meta = item["metadata"]
                mac = hmac.new(key, digestmod=hashlib.sha256)
                for k in sorted(item.get("data") or {}):
                    mac.update(k.encode() + b"\0" + str(item["data"][k]).encode() + b"\0")
                digests[(meta["namespace"], meta["name"])] = mac.digest()
                seen[("secrets", meta["namespace"], meta["name"])] = meta["resourceVersion"]
            token = doc["metadata"].get("continue")
            if not token:
                return

    await _measure(work)
    await kube.aclose()


async def _measure(work: Any) -> None:
    gc.collect()
    rss0 = rss_bytes(os.getpid())
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    await work()
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    print(
        json.dumps(
            {
                "retained_mib": round(mb(retained - base), 2),
                "peak_mib": round(mb(peak - base), 2),
                "rss_growth_mib": round(mb(rss_bytes(os.getpid()) - rss0), 1),
            }
        )
    )


def _child(design: str, kubeconfig: Path) -> dict[str, float]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.secrets_memory", "--child", design],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        asyncio.run(_new() if sys.argv[2] == "new" else _old())
        return
    args = parser(__doc__ or "", default_n=10_000).parse_args()
    plane = ControlPlane(ensure_binaries(build=True), controller_manager=False)
    plane.start()
    try:
        seconds = asyncio.run(_populate(plane.kubeconfig, args.n))
        print(f"# created {args.n} Secrets of 4 KiB in {seconds:.0f}s", flush=True)
        new, old = _child("new", plane.kubeconfig), _child("old", plane.kubeconfig)
    finally:
        plane.stop()
    figures = {
        "secrets": args.n,
        **{f"new_{k}": v for k, v in new.items()},
        **{f"old_{k}": v for k, v in old.items()},
    }
    verdicts: list[Verdict] = [
        at_most("new_retained_mib", new["retained_mib"], RETAINED_TARGET_MIB, " MiB"),
        at_most("new_peak_mib", new["peak_mib"], PEAK_TARGET_MIB, " MiB"),
    ]
    report("secrets_memory", figures, verdicts, {"n": args.n})


if __name__ == "__main__":
    main()
