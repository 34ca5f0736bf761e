"""What every benchmark shares: the stack, the operator process, /proc sampling, results and verdicts.

Owns: starting a real control plane (etcd + kube-apiserver, CRDs applied), the Nylas emulator as a
subprocess (so its CPU is not the benchmark's), the operator as a subprocess with given flags, RSS/CPU
sampling from ``/proc/<pid>``, the machine description, JSON results in ``bench/results/`` and
PASS/FAIL lines. Does not own: objects (``scenario.py``) or the Kubernetes client (``kube.py``).

Benchmarks print figures; they are not timed tests. Everything runs on loopback; ports are picked free.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nylas_operator.devcluster.build import ensure_binaries
from nylas_operator.devcluster.controlplane import ControlPlane
from nylas_operator.emulator.config import DEFAULT_API_KEY, DEFAULT_APPLICATION_ID
from nylas_operator.emulator.harness import EmulatorControl
from nylas_operator.settings import NylasSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CRDS_DIR = REPO_ROOT / "crds"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- /proc ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (its threads included, children not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the kernel's own peak resident set of ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def mb(value: float) -> float:
    return round(value / (1024 * 1024), 1)


@dataclass
class Sampler:
    """Samples RSS of a pid every ``interval`` s on a thread; keeps the peak and the samples."""

    pid: int
    interval: float = 0.5
    peak: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError, IndexError):
                value = rss_bytes(self.pid)
                self.peak = max(self.peak, value, peak_rss_bytes(self.pid))
                self.samples.append((time.time(), value))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def idle_usage(pid: int, seconds: float) -> dict[str, float]:
    """RSS now and the CPU share used over ``seconds`` of doing nothing asked of it."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    return {
        "window_s": round(t1 - t0, 1),
        "cpu_s": round(cpu1 - cpu0, 3),
        "cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
        "rss_mb": mb(rss_bytes(pid)),
        "peak_rss_mb": mb(peak_rss_bytes(pid)),
    }


# --- machine ----------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu_model = match.group(1).strip() if match else ""
    mem_kb = 0
    with contextlib.suppress(OSError, AttributeError):
        match = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
        mem_kb = int(match.group(1)) if match else 0
    versions: dict[str, str] = {}
    for package in ("kopf", "httpx", "aiohttp", "pydantic"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        **versions,
    }


# --- processes --------------------------------------------------------------------------------------


def _cli() -> list[str]:
    return [sys.executable, "-m", "nylas_operator.cli"]


class Emulator:
    """``nylas-operator emulator`` as a subprocess; ``control`` talks to its /_emulator API."""

    def __init__(self, log_dir: Path, *args: str) -> None:
        self.log = log_dir / "emulator.log"
        self._stderr = self.log.open("wb")
        self.popen = subprocess.Popen(
            [*_cli(), "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO_ROOT,
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().decode()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}; see {self.log}")
        self.url = match.group(1).rstrip(" (")
        self.control = EmulatorControl(self.url)
        self.api_key = DEFAULT_API_KEY
        self.application_id = DEFAULT_APPLICATION_ID

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        _terminate(self.popen)
        self._stderr.close()


def _terminate(popen: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)


class Operator:
    """``nylas-operator run ...`` as a subprocess, logging to a file in the run directory."""

    def __init__(
        self,
        plane: ControlPlane,
        log_path: Path,
        args: Sequence[str],
        nylas_rate: float | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.nylas_rate = nylas_rate
        self._log = log_path.open("ab")
        self.started = time.time()
        env = {**plane.env(), **(env or {})}
        rate, burst = budget(nylas_rate)
        budget_args = [] if nylas_rate is None else ["--nylas-rate", str(rate), "--nylas-burst", str(burst)]
        command = [*_cli(), "run", *self.args, *budget_args]
        self.popen = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check(self) -> None:
        if not self.alive():
            tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"operator exited with {self.popen.returncode}:\n" + "\n".join(tail))

    def stop(self, timeout: float = 30.0) -> None:
        _terminate(self.popen, timeout)
        self._log.close()


def install_crds(plane: ControlPlane) -> None:
    args = [arg for path in sorted(CRDS_DIR.glob("*.yaml")) for arg in ("-f", str(path))]
    plane.kubectl("apply", "--server-side", "--force-conflicts", *args)
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args, timeout=90)


@dataclass
class Stack:
    """The control plane, the emulator, and the operator processes started on them."""

    plane: ControlPlane
    emulator: Emulator
    run_dir: Path
    operators: list[Operator] = field(default_factory=list)

    nylas_rate: float | None = None

    def start_operator(
        self, args: Sequence[str], name: str = "operator", env: dict[str, str] | None = None
    ) -> Operator:
        log = self.run_dir / f"{name}-{len(self.operators)}.log"
        operator = Operator(self.plane, log, args, self.nylas_rate, env)
        self.operators.append(operator)
        return operator


@contextlib.contextmanager
def stack(*emulator_args: str) -> Iterator[Stack]:
    """Start control plane + emulator; stop everything (operators first) on exit."""
    run_dir = Path(tempfile.mkdtemp(prefix="nylas-bench-"))
    plane = ControlPlane(ensure_binaries(build=True), controller_manager=False)
    print(f"# starting control plane + emulator (logs in {run_dir})", flush=True)
    plane.start()
    emulator: Emulator | None = None
    stack_: Stack | None = None
    try:
        install_crds(plane)
        emulator = Emulator(run_dir, *emulator_args)
        stack_ = Stack(plane, emulator, run_dir)
        yield stack_
    finally:
        for operator in stack_.operators if stack_ else []:
            operator.stop()
        if emulator is not None:
            emulator.stop()
        plane.stop()
        print(f"# operator and emulator logs: {run_dir}", flush=True)


def operator_args(
    namespace: str,
    *,
    scope_cache_delay: str = "0s",
    drift_interval: str | None = None,
    metrics_port: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The operator's command line for a benchmark (one namespace, no callback, quiet logs)."""
    args = [
        "--namespace",
        namespace,
        "--scope-cache-delay",
        scope_cache_delay,
        "--health-listen",
        "127.0.0.1:0",
    ]
    if drift_interval is not None:
        args += ["--drift-interval", drift_interval]
    if metrics_port is not None:
        args += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
    return [*args, *extra]


# --- journal ----------------------------------------------------------------------------------------

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def journal_summary(entries: Sequence[Any]) -> dict[str, int]:
    """Count journal entries by ``METHOD path-template`` (ids replaced by ``{id}``)."""
    counts: dict[str, int] = {}
    for entry in entries:
        template = re.sub(r"/(?=[^/]*\d)[A-Za-z0-9_-]{16,}", "/{id}", entry.path)
        key = f"{entry.method} {template} {entry.status}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(ordered[-1], 3)}


def budget(nylas_rate: float | None) -> tuple[float, int]:
    """(rate, burst) the operator runs with under ``--nylas-rate`` (see ``Stack``); without it, the
    operator's defaults (Nylas's documented 50 requests/s per application, burst 10)."""
    if nylas_rate is None:
        return NylasSettings.rate, NylasSettings.burst
    return nylas_rate, max(10, int(nylas_rate))


def budget_schedule(n: int, nylas_rate: float | None) -> list[float]:
    """Seconds after the start at which a perfect client could send n requests through the token
    bucket (the burst at once, then one per 1/rate): what no operator can beat at that budget."""
    rate, burst = budget(nylas_rate)
    return [max(0.0, (i + 1 - burst) / rate) for i in range(n)]


# --- results ----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    name: str
    value: float | None
    target: str
    passed: bool

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:g}"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name} = {shown}  (target {self.target})"


def at_most(name: str, value: float | None, limit: float, unit: str = "") -> Verdict:
    return Verdict(name, value, f"<= {limit:g}{unit}", value is not None and value <= limit)


def all_ready(done: bool, what: str = "all_ready") -> Verdict:
    """A run that timed out must not pass on figures of the part that finished."""
    return Verdict(what, 1.0 if done else 0.0, "1 (every object Ready)", bool(done))


def write_result(benchmark: str, data: dict[str, Any], verdicts: Sequence[Verdict]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "benchmark": benchmark,
        "finished_at": stamp,
        "command": " ".join([Path(sys.executable).name, "-m", f"bench.{benchmark}", *sys.argv[1:]]),
        "machine": machine_info(),
        **data,
        "verdicts": [v.__dict__ for v in verdicts],
    }
    path = RESULTS_DIR / f"{benchmark}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS_DIR / f"{benchmark}-latest.json").write_text(path.read_text())
    return path


def report(
    benchmark: str, figures: dict[str, Any], verdicts: Sequence[Verdict], data: dict[str, Any]
) -> None:
    """Print the summary block and write the JSON result."""
    print(f"\n== {benchmark} ==")
    for key, value in figures.items():
        print(f"{key}={value}")
    for verdict in verdicts:
        print(verdict.line())
    path = write_result(benchmark, {**data, "figures": figures}, verdicts)
    print(f"result: {path.relative_to(REPO_ROOT)}", flush=True)


def parser(description: str, default_n: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--n", type=int, default=default_n, help=f"number of grants (default {default_n or 'see --sizes'})"
    )
    p.add_argument(
        "--operator-arg",
        action="append",
        default=[],
        help="extra argument passed to `nylas-operator run` (repeatable; use --operator-arg=--flag)",
    )
    p.add_argument("--profile", action="store_true", help="record a py-spy profile of the operator")
    p.add_argument(
        "--nylas-rate",
        type=float,
        default=None,
        help="override the operator's Nylas budget (requests/s per application; default: the "
        "operator's own, 50/s) as `--nylas-rate`/`--nylas-burst` of `nylas-operator run`",
    )
    return p


@contextlib.contextmanager
def maybe_profile(enabled: bool, pid: int, out: Path) -> Iterator[None]:
    """py-spy record of ``pid`` while the block runs (if asked and py-spy is installed)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not enabled or not py_spy.exists():
        yield
        return
    proc = subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--output",
            str(out),
            "--format",
            "raw",
            "--rate",
            "50",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        print(f"# profile (collapsed stacks): {out}", flush=True)
        with contextlib.suppress(OSError):
            for line in summarize_profile(out):
                print("#   " + line, flush=True)


def summarize_profile(path: Path, top: int = 25) -> list[str]:
    """Inclusive share of samples per function (``file:function``), from py-spy's collapsed stacks."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        return []
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    lines = [
        f"{100 * v / total:5.1f}% incl  {100 * own.get(k, 0) / total:5.1f}% self  {k}"
        for k, v in ranked
        if "asyncio" not in k and "runpy" not in k and "click" not in k
    ][:top]
    lines.insert(0, f"{total} samples; top frames by inclusive share:")
    return lines


# --- the operator's own metrics -----------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def metric_sum(port: int, name: str, **labels: str) -> float | None:
    """Sum of the samples of ``name`` matching ``labels`` on the operator's /metrics; None if down."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_quiet(pid: int, *, below_percent: float = 3.0, window: float = 2.0, within: float = 180.0) -> float:
    """Wait until ``pid`` uses less than ``below_percent`` CPU over ``window``; returns seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        cpu0 = cpu_seconds(pid)
        time.sleep(window)
        if 100 * (cpu_seconds(pid) - cpu0) / window < below_percent:
            break
    return round(time.monotonic() - started, 1)
