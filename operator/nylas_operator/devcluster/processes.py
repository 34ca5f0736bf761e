"""Child processes of the local control plane: spawning, finding free ports, stopping by pid.

Owns: how a component is spawned (own session, logs to a file, optionally tied to the life of this
process with PR_SET_PDEATHSIG), how a pid is recognised again later (its start time), how a process is
stopped (SIGTERM, wait, SIGKILL), and free loopback ports.

Does not own: which components run or with which flags (see ``controlplane``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_spawner: concurrent.futures.ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


@dataclass(frozen=True)
class ProcessId:
    """A pid plus its kernel start time, so a recycled pid is never mistaken for our process."""

    pid: int
    start_time: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all sockets held open together, so no duplicates)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def parse_stat(stat: str) -> tuple[str, int]:
    """(state, start time) from the text of /proc/PID/stat; the command name may contain spaces."""
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the name: state is field 3 of the whole line, starttime field 22.
    return fields[0], int(fields[19])


def _read_stat(pid: int) -> tuple[str, int] | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def identify(pid: int) -> ProcessId:
    stat = _read_stat(pid)
    return ProcessId(pid, stat[1] if stat else -1)


def is_running(proc: ProcessId) -> bool:
    """True while the very process (same pid and start time) exists and is not a zombie."""
    stat = _read_stat(proc.pid)
    return stat is not None and stat[0] not in ("Z", "X") and stat[1] == proc.start_time


def _preexec_tie_to_parent(parent: int) -> Callable[[], None]:
    # Resolved before fork: the child only calls into libc, no imports or library loading after fork.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _on_long_lived_thread(fn: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Run ``fn`` on a thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so a child spawned from a
    short-lived worker thread (asyncio.to_thread in a test) would be killed with that thread.
    """
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _spawner_lock:
        if _spawner is None:
            _spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="devcluster-spawner")
    return _spawner.submit(fn).result()


def spawn(args: Sequence[str], log: Path, *, tie_to_parent: bool) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own session with stdout and stderr appended to ``log``.

    ``tie_to_parent``: the kernel SIGKILLs the child when this process dies, even by SIGKILL.
    """
    log.parent.mkdir(parents=True, exist_ok=True)

    def start() -> subprocess.Popen[bytes]:
        with open(log, "ab") as sink:
            return subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C in the terminal reaches only us, and we stop components in order.
                start_new_session=True,
                preexec_fn=_preexec_tie_to_parent(os.getpid()) if tie_to_parent else None,
                close_fds=True,
            )

    return _on_long_lived_thread(start) if tie_to_parent else start()


def stop_popen(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; always reaps the child."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)


def stop_pid(proc: ProcessId, timeout: float) -> None:
    """Like ``stop_popen`` for a process that is not our child (a detached cluster)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        if not is_running(proc):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and is_running(proc):
            time.sleep(0.05)
    if is_running(proc):
        raise RuntimeError(f"pid {proc.pid} survived SIGKILL")
