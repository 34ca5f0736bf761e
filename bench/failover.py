"""Leader failover: SIGKILL of the leader → the standby holds the Lease → its first reconcile.

Run: ``.venv/bin/python -m bench.failover [--rounds 3] [--n 20] [--lease-duration 15s]``.

Two ``nylas-operator run --leader-elect`` processes (the chart with ``replicas: 2``) serve one
namespace with N Microsoft grants Ready. Each round SIGKILLs the leader and at once creates one more
grant; it reports the seconds from the kill to (a) the Lease naming the standby, (b) the standby's
first Nylas request (emulator journal, by User-Agent) and (c) the new grant Ready. The killed
replica is then started again as the new standby; the next kill waits until it has looked at the
Lease (a standby counts the lease duration from its first look, as client-go's does). Targets:
takeover within lease duration + 2 retry periods (the standby counts from when it saw the last
renewal), the new grant Ready within that + 10 s (kopf's start-up and warm-up), every grant created
in Nylas exactly once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/failover.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, scenario
from bench.kube import GRANTS, KubeClient, ReadyWatcher
from nylas_operator.api.common import parse_duration

NAMESPACE = "bench-failover"
LEASE = "nylas-operator-bench"


async def lease_holder(kube: KubeClient) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}"
    try:
        body = await kube.request("GET", path)
    except Exception:  # not created yet
        return ""
    return str((body.get("spec") or {}).get("holderIdentity") or "")


async def wait_holder(kube: KubeClient, prefix: str, within: float) -> float | None:
    """time.time() when the Lease first names an identity starting with ``prefix``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await lease_holder(kube)).startswith(prefix):
            return time.time()
        await asyncio.sleep(0.05)
    return None


async def wait_standby(operator: common.Operator, within: float = 60.0) -> None:
    """Until the replica has looked at the Lease (it counts the lease duration from its first look)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        operator.check()
        if "standby: the lease" in operator.log_path.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{operator.log_path} never became a standby")


async def main_async(args: Any) -> None:
    lease_s = parse_duration(args.lease_duration).total_seconds()
    renew_s = parse_duration(args.renew_deadline).total_seconds()
    retry_s = parse_duration(args.retry_period).total_seconds()
    election = [
        "--leader-elect",
        "--leader-election-namespace", NAMESPACE,
        "--leader-election-name", LEASE,
        "--leader-election-lease-duration", args.lease_duration,
        "--leader-election-renew-deadline", args.renew_deadline,
        "--leader-election-retry-period", args.retry_period,
    ]  # fmt: skip
    with common.stack("--scope-cache-delay", "0") as st:
        async with KubeClient(st.plane.kubeconfig) as kube:
            await kube.create_namespace(NAMESPACE)
            await scenario.secrets(kube, NAMESPACE, st.emulator)
            replicas: dict[str, common.Operator] = {}

            def start(name: str) -> None:
                replicas[name] = st.start_operator(
                    common.operator_args(NAMESPACE, extra=[*election, *args.operator_arg]),
                    name=name,
                    env={"POD_NAME": name},
                )

            start("replica-a")
            if await wait_holder(kube, "replica-a_", 60) is None:
                raise RuntimeError("replica-a never held the Lease")
            start("replica-b")
            await wait_standby(replicas["replica-b"])
            await scenario.setup_provider(kube, NAMESPACE, st.emulator, scenario.MICROSOFT)
            watcher = ReadyWatcher(kube, GRANTS, NAMESPACE)
            await watcher.start()
            build_s, done = await scenario.ready_grants(
                kube, NAMESPACE, scenario.MICROSOFT, 0, args.n, watcher=watcher
            )
            print(f"# {args.n} grants Ready in {build_s:.1f} s (all: {done})", flush=True)
            rounds: list[dict[str, float | None]] = []
            for index in range(args.rounds):
                await asyncio.sleep(retry_s * 2)
                leader = (await lease_holder(kube)).split("_", 1)[0]
                standby = next(name for name in replicas if name != leader)
                replicas[leader].popen.kill()
                killed = time.time()
                name, email = f"probe-{index}", f"probe{index}@microsoft.bench.example"
                await kube.create(GRANTS, NAMESPACE, scenario.grant(scenario.MICROSOFT, name, email))
                taken = await wait_holder(kube, f"{standby}_", lease_s + 30)
                ready = await watcher.wait_for(lambda w, n=name: n in w.ready_at, lease_s + 60)
                first_write = min(
                    (
                        e.time
                        for e in st.emulator.control.journal()
                        if e.time > killed and f"({standby}_" in (e.user_agent or "")
                    ),
                    default=None,
                )

                def since_kill(moment: float | None, killed: float = killed) -> float | None:
                    return None if moment is None else round(moment - killed, 2)

                rounds.append(
                    {
                        "takeover_s": since_kill(taken),
                        "first_nylas_request_s": since_kill(first_write),
                        "first_reconcile_s": since_kill(watcher.ready_at.get(name) if ready else None),
                    }
                )
                print(f"# round {index}: {rounds[-1]}", flush=True)
                replicas[leader].stop()
                start(leader)  # back as the standby, as a restarted Pod
                await wait_standby(replicas[leader])
            await watcher.stop()
            journal = st.emulator.control.journal()
            creates = Counter(
                e.email for e in journal if e.method == "POST" and e.path == "/v3/connect/custom"
            )
            twice = sorted(email for email, count in creates.items() if count > 1)

            def worst(key: str) -> float | None:
                values = [r[key] for r in rounds]
                return None if any(v is None for v in values) else max(v for v in values if v is not None)

            takeover_bound = lease_s + 2 * retry_s
            figures = {
                "lease_duration_s": lease_s,
                "renew_deadline_s": renew_s,
                "retry_period_s": retry_s,
                "n": args.n,
                "rounds": len(rounds),
                "takeover_s_max": worst("takeover_s"),
                "first_nylas_request_s_max": worst("first_nylas_request_s"),
                "first_reconcile_s_max": worst("first_reconcile_s"),
                "grants_created_twice": len(twice),
            }
            verdicts = [
                common.all_ready(done),
                common.at_most("takeover_s_max", figures["takeover_s_max"], takeover_bound, "s"),
                common.at_most(
                    "first_reconcile_s_max", figures["first_reconcile_s_max"], takeover_bound + 10, "s"
                ),
                common.at_most("grants_created_twice", len(twice), 0),
            ]
            common.report("failover", figures, verdicts, {"rounds": rounds, "created_twice": twice})


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], 20)
    p.add_argument("--rounds", type=int, default=3, help="leader kills (default 3)")
    p.add_argument("--lease-duration", default="15s", help="as the chart's default (15s)")
    p.add_argument("--renew-deadline", default="10s")
    p.add_argument("--retry-period", default="2s")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
