"""Drift-check cost: Nylas calls per drift interval for N Ready grants.

Run: ``.venv/bin/python -m bench.drift [--n 1000] [--interval 10] [--intervals 6]``.

N Microsoft grants are brought to Ready by the operator (run with ``--drift-interval``), then the
emulator journal is read over ``--intervals`` drift intervals with nothing else happening. A pass is
one walk over ``GET /v3/grants`` (first page = no offset); the target is at most N/100 calls per pass
(pages of 200 need N/200) and no other Nylas calls in between.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/drift.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, scenario
from bench.kube import GRANTS, KubeClient, ReadyWatcher

NAMESPACE = "bench-drift"


async def main_async(args: Any) -> None:
    with common.stack("--scope-cache-delay", "0") as st:
        st.nylas_rate = args.nylas_rate
        async with KubeClient(st.plane.kubeconfig) as kube:
            await kube.create_namespace(NAMESPACE)
            await scenario.secrets(kube, NAMESPACE, st.emulator)
            operator = st.start_operator(
                common.operator_args(NAMESPACE, drift_interval=f"{args.interval:g}s", extra=args.operator_arg)
            )
            await scenario.setup_provider(kube, NAMESPACE, st.emulator, scenario.MICROSOFT)
            watcher = ReadyWatcher(kube, GRANTS, NAMESPACE)
            await watcher.start()
            build_s, done = await scenario.ready_grants(
                kube, NAMESPACE, scenario.MICROSOFT, 0, args.n, watcher=watcher
            )
            await watcher.stop()
            print(f"# {args.n} grants Ready in {build_s:.1f} s (all: {done})", flush=True)
            # Let the drift loop see every Ready grant before the window opens.
            await asyncio.sleep(args.interval * 1.3)
            journal_start = max((e.seq for e in st.emulator.control.journal()), default=0)
            window = args.interval * args.intervals
            cpu0, t0 = common.cpu_seconds(operator.pid), time.monotonic()
            with common.maybe_profile(args.profile, operator.pid, st.run_dir / "drift.profile.txt"):
                await asyncio.sleep(window)
            cpu_percent = 100 * (common.cpu_seconds(operator.pid) - cpu0) / (time.monotonic() - t0)
            operator.check()
            journal = [
                e for e in st.emulator.control.journal(after=journal_start) if e.path.startswith("/v3/")
            ]
            lists = [
                e for e in journal if e.method == "GET" and e.path == "/v3/grants" and "email" not in e.query
            ]
            passes = sum(1 for e in lists if int(e.query.get("offset") or 0) == 0)
            others = len(journal) - len(lists)
            per_pass = round(len(lists) / passes, 2) if passes else None
            figures = {
                "nylas_rate": args.nylas_rate or "operator default (50/s, burst 10)",
                "n": args.n,
                "interval_s": args.interval,
                "window_s": window,
                "passes": passes,
                "list_calls": len(lists),
                "list_calls_per_pass": per_pass,
                "calls_per_interval": round(len(journal) / args.intervals, 2),
                "other_nylas_calls": others,
                "operator_cpu_percent_during_window": round(cpu_percent, 2),
                "operator_rss_mb": common.mb(common.rss_bytes(operator.pid)),
            }
            verdicts = [
                common.at_most("list_calls_per_pass", per_pass, args.n / 100),
                common.at_most("calls_per_interval", figures["calls_per_interval"], args.n / 100),
            ]
            common.report(
                "drift",
                figures,
                verdicts,
                {"nylas_journal": common.journal_summary(journal), "operator_args": operator.args},
            )


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], 1000)
    p.add_argument("--interval", type=float, default=10.0, help="drift interval in seconds (default 10)")
    p.add_argument("--intervals", type=int, default=6, help="how many intervals to observe (default 6)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
