"""Settle precision: how long after its eligible time each grant is created in Nylas.

Run: ``.venv/bin/python -m bench.settle [--n 200] [--delay 5]``.

N Microsoft grants wait for consent (AwaitingConsent). Consent is then approved in the emulator and
recorded on the credential by annotation, with a scope-cache delay of ``--delay`` s on the emulator,
the credential and the operator. Per grant: lateness = (time of its successful
``POST /v3/connect/custom`` in the emulator journal) - ``status.eligibleAt``. Also reported: the
lateness against the exact wall-clock time the consent annotation was written + delay (eligibleAt
has whole seconds, so it can be up to 1 s earlier than that), grants created early (must be 0) and
custom-auth calls Nylas refused (the scope-cache window, must be 0), the apiserver writes per grant
from the consent to Ready (watch events; at most 3), and ``budget_bound_s``: the
lateness a perfect client would have at the operator's Nylas budget (token bucket: the burst at once,
then 1/rate apart), which no operator can beat, and ``lateness_beyond_budget_s``: each grant's
lateness minus its slot in that schedule (k-th created against k-th slot), the operator's own share.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/settle.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, scenario
from bench.kube import CREDENTIALS, GRANTS, KubeClient, ReadyWatcher

NAMESPACE = "bench-settle"


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def main_async(args: Any) -> None:
    delay = f"{args.delay:g}s"
    with common.stack("--scope-cache-delay", str(args.delay)) as st:
        st.nylas_rate = args.nylas_rate
        async with KubeClient(st.plane.kubeconfig) as kube:
            await kube.create_namespace(NAMESPACE)
            await scenario.secrets(kube, NAMESPACE, st.emulator)
            operator = st.start_operator(
                common.operator_args(NAMESPACE, scope_cache_delay=delay, extra=args.operator_arg)
            )
            provider = scenario.MICROSOFT
            cred = await scenario.setup_provider(
                kube, NAMESPACE, st.emulator, provider, scope_cache_delay=delay, consent=False
            )
            watcher = ReadyWatcher(kube, GRANTS, NAMESPACE)
            await watcher.start()
            pairs = scenario.grant_names(provider, args.n)
            await scenario.create_grants(kube, NAMESPACE, provider, pairs, 32)
            waiting = await watcher.wait_for(
                lambda w: (
                    sum(
                        1
                        for b in w.seen.values()
                        if (b.get("status") or {}).get("phase") == "AwaitingConsent"
                    )
                    >= args.n
                ),
                600,
            )
            print(f"# {args.n} grants awaiting consent: {waiting}", flush=True)
            journal_start = max((e.seq for e in st.emulator.control.journal()), default=0)
            writes_before = dict(watcher.writes)
            scenario.record_consent(st.emulator, cred["status"]["credentialId"])
            consented_at = time.time()
            await kube.merge_patch(
                CREDENTIALS,
                NAMESPACE,
                provider.credential,
                {"metadata": {"annotations": {"nylas-operator.io/admin-consent": "granted"}}},
            )
            with common.maybe_profile(args.profile, operator.pid, st.run_dir / "settle.profile.txt"):
                done = await watcher.wait_ready([n for n, _ in pairs], args.delay + 600)
            operator.check()
            await watcher.stop()
            journal = st.emulator.control.journal(after=journal_start)
            customs = [e for e in journal if e.method == "POST" and e.path == "/v3/connect/custom"]
            created = {}
            for entry in customs:
                if entry.status in (200, 201) and entry.email and entry.email not in created:
                    created[entry.email] = entry.time
            refused = sum(1 for e in customs if e.status is not None and e.status >= 400)
            by_name = dict(pairs)
            lateness, exact = [], []
            for name, body in watcher.seen.items():
                eligible = (body.get("status") or {}).get("eligibleAt")
                made = created.get(by_name.get(name, ""))
                if eligible and made is not None:
                    lateness.append(made - _epoch(eligible))
                    exact.append(made - (consented_at + args.delay))
            late = common.percentiles(lateness)
            # Apiserver writes per grant from the consent to Ready (each write is one watch event).
            writes = [
                float(watcher.writes_at_ready[name] - writes_before.get(name, 0))
                for name in watcher.writes_at_ready
                if name in by_name
            ]
            # All N become eligible at the same second: the Nylas budget alone spreads their creates.
            schedule = common.budget_schedule(len(lateness), args.nylas_rate)
            bound = common.percentiles(schedule)
            # The operator's own share: the k-th grant created against the k-th slot of the budget.
            beyond = common.percentiles([a - b for a, b in zip(sorted(lateness), schedule, strict=True)])
            figures = {
                "nylas_rate": args.nylas_rate or "operator default (50/s, burst 10)",
                "n": args.n,
                "delay_s": args.delay,
                "all_ready": done,
                "measured": len(lateness),
                "lateness_vs_eligibleAt_s": late,
                "lateness_vs_consent_plus_delay_s": common.percentiles(exact),
                "budget_bound_s": bound,
                "lateness_beyond_budget_s": beyond,
                "created_before_eligibleAt": sum(1 for x in lateness if x < 0),
                # Against the wall clock of the consent + delay, not the operator's own eligibleAt.
                "created_before_consent_plus_delay": sum(1 for x in exact if x < 0),
                "custom_auth_refused": refused,
                "writes_per_grant_consent_to_ready": common.percentiles(writes),
                "operator_peak_rss_mb": common.mb(common.peak_rss_bytes(operator.pid)),
            }
            if bound.get("p99", 0.0) > 2.0:
                print(
                    f"# note: at this Nylas budget no client can create {len(lateness)} grants eligible "
                    f"at the same second with p99 <= 2 s: the budget alone gives p99 {bound['p99']} s",
                    flush=True,
                )
            verdicts = [
                common.all_ready(bool(done) and len(lateness) == args.n),
                common.at_most("settle_p99_s", late.get("p99"), 2.0, " s"),
                common.at_most("settle_p99_beyond_nylas_budget_s", beyond.get("p99"), 2.0, " s"),
                common.at_most("created_before_eligibleAt", figures["created_before_eligibleAt"], 0),
                common.at_most("writes_per_grant_consent_to_ready_max", max(writes, default=None), 3),
                common.at_most(
                    "created_before_consent_plus_delay", figures["created_before_consent_plus_delay"], 0
                ),
            ]
            common.report(
                "settle",
                figures,
                verdicts,
                {"nylas_journal": common.journal_summary(journal), "operator_args": operator.args},
            )


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], 200)
    p.add_argument("--delay", type=float, default=5.0, help="scope-cache delay in seconds (default 5)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
