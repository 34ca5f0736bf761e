"""The limits of issue #13, measured: a huge Nylas answer under the response cap, and the consent
callback under a flood of idle connections.

1. Peak RSS growth of a process whose Nylas call gets a 256 MiB answer (chunked, from a loopback
   server), with the operator's cap (4 MiB) and without any cap. Each run is its own process:
   ``ru_maxrss`` is a high-water mark. Target: the capped growth stays under 32 MiB.
2. The consent callback behind its connection guard (256 connections at most) while 50 clients
   (distinct loopback addresses) hold 20 idle connections each: an administrator's callback must
   still answer 200. Prints its latency and how many idle connections the guard closed.

Run: ``.venv/bin/python -m bench.limits``. Prints figures and PASS/FAIL; not a timed test.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
import sys
import time

from nylas_operator.consent import tokens
from nylas_operator.consent.callback import make_callback_app
from nylas_operator.consent.guard import GuardLimits, start_guarded_site
from nylas_operator.consent.recording import ConsentOutcome, RecordResult
from nylas_operator.nylas import LimiterRegistry, NylasClient, NylasSettings, RetryPolicy
from nylas_operator.nylas.errors import NylasError

ANSWER_BYTES = 256 * 1024 * 1024
CAP_TARGET_MIB = 32.0
CLIENTS, PER_CLIENT = 50, 20


async def _huge_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"x" * 65536
    try:
        for _ in range(ANSWER_BYTES // len(block)):
            writer.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass  # the client stopped reading at its cap
    writer.close()


async def _one_call(cap: int | None) -> float:
    server = await asyncio.start_server(_huge_answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    settings = NylasSettings(retry=RetryPolicy(max_attempts=1), max_response_bytes=cap, attempt_deadline=300)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with NylasClient("nyk_bench", api_url=url, settings=settings, registry=LimiterRegistry()) as client:
        # Over the cap, or (uncapped) not JSON: either way the answer was refused or read whole.
        with contextlib.suppress(NylasError):
            await client.grants.get("g-1")
    server.close()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # KiB -> MiB


class _Recorder:
    def __init__(self) -> None:
        self.pending: set[str] = set()

    def issue(self) -> str:
        token, digest = tokens.new_state()
        self.pending.add(digest)
        return token

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult:
        if state_hash not in self.pending:
            return RecordResult.refused()
        self.pending.discard(state_hash)
        return RecordResult(accepted=True, display_name="bench/contoso")


async def _flooded_callback() -> tuple[int, float, int, int]:
    recorder = _Recorder()
    site = await start_guarded_site(
        make_callback_app(recorder), "127.0.0.1", 0, GuardLimits(max_connections=256, header_timeout=60)
    )
    writers: list[asyncio.StreamWriter] = []
    try:
        for client in range(CLIENTS):
            for _ in range(PER_CLIENT):
                _, writer = await asyncio.open_connection(
                    site.host, site.port, local_addr=(f"127.0.1.{client + 1}", 0)
                )
                writers.append(writer)
        await asyncio.sleep(0.2)  # let the guard see them all
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(site.host, site.port, local_addr=("127.0.0.1", 0))
        query = f"admin_consent=true&state={recorder.issue()}"
        writer.write(f"GET /consent/callback?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 30)
        elapsed = time.monotonic() - started
        writer.close()
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
        stats = site.guard.stats
        return status, elapsed, stats.evicted + stats.refused, site.guard.open_connections
    finally:
        for writer in writers:
            writer.close()
        await site.close()


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        cap = None if sys.argv[2] == "none" else int(sys.argv[2])
        print(f"{asyncio.run(_one_call(cap)):.1f}")
        return 0
    growth = {}
    for label, arg in (("capped (4 MiB)", str(NylasSettings().max_response_bytes)), ("uncapped", "none")):
        out = subprocess.run(
            [sys.executable, "-m", "bench.limits", "--one", arg], capture_output=True, text=True, check=True
        )
        growth[label] = float(out.stdout.strip().splitlines()[-1])
        print(f"256 MiB answer, {label}: peak RSS growth {growth[label]:.1f} MiB")
    capped = growth["capped (4 MiB)"]
    ok_cap = capped < CAP_TARGET_MIB
    print(f"{'PASS' if ok_cap else 'FAIL'} response cap: {capped:.1f} MiB < {CAP_TARGET_MIB} MiB")

    status, elapsed, closed, still_open = asyncio.run(_flooded_callback())
    print(
        f"callback under {CLIENTS * PER_CLIENT} idle connections from {CLIENTS} clients: HTTP {status} "
        f"in {elapsed * 1000:.0f} ms; the guard closed {closed}, {still_open} open at the end"
    )
    ok_guard = status == 200
    print(f"{'PASS' if ok_guard else 'FAIL'} an administrator's callback gets through the flood")
    return 0 if ok_cap and ok_guard else 1


if __name__ == "__main__":
    sys.exit(main())
