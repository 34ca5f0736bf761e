"""Process supervision for the sandbox: Ctrl-C/SIGTERM handling and the operator child process.

Owns: turning SIGINT and SIGTERM into one ``Interrupted`` exception (so every start-up step and the
watch loop unwind to the same clean-up), shielding that clean-up from further signals, and the
operator subprocess (spawned tied to this process, so even a SIGKILL of the sandbox takes it down;
stopped with SIGTERM, then SIGKILL). Does not own: the control plane's processes (``devcluster``)
or what the sandbox does between start and stop (``command``).
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from nylas_operator.devcluster import processes

# SIGHUP: the terminal was closed; stop as cleanly as for Ctrl-C.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):  # like KeyboardInterrupt: not caught by `except Exception`
    """SIGINT or SIGTERM arrived; the sandbox unwinds and stops everything."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SupervisionError(RuntimeError):
    """A supervised process died or did not become healthy."""


class Signals:
    """SIGINT/SIGTERM → ``Interrupted`` once; during clean-up, further signals are only noted."""

    def __init__(self, on_repeat: Callable[[], None] | None = None) -> None:
        self.received: int | None = None
        self._on_repeat = on_repeat
        self._saved: dict[int, Any] = {}

    def arm(self) -> None:
        for signum in _SIGNALS:
            self._saved.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self._raise)

    def shield(self) -> None:
        """From now on a signal does not interrupt: the clean-up must finish to leave nothing behind."""
        for signum in _SIGNALS:
            self._saved.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self._note)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            raise Interrupted(signum)
        self._note(signum, frame)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum
        if self._on_repeat is not None:
            self._on_repeat()


class Child:
    """One long-running child process with its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log: Path, *, stop_timeout: float = 15.0) -> None:
        self.name = name
        self.args = list(args)
        self.log = log
        self.stop_timeout = stop_timeout
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def start(self) -> None:
        # Own session (Ctrl-C in the terminal reaches only the sandbox, which stops children in
        # order) and tied to this process (the kernel kills it if the sandbox dies abruptly).
        self.popen = processes.spawn(self.args, self.log, tie_to_parent=True)

    def exited(self) -> int | None:
        """The exit code once the child has ended, else None."""
        return None if self.popen is None else self.popen.poll()

    def stop(self) -> None:
        if self.popen is not None:
            processes.stop_popen(self.popen, self.stop_timeout)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.exited()
        if code is not None:
            raise SupervisionError(
                f"the {self.name} exited with code {code}; its log {self.log} ends with:\n{self.log_tail()}"
            )

    def wait_http_ok(self, url: str, timeout: float) -> None:
        """Wait until GET ``url`` answers 2xx; fail early if the child exits."""
        deadline = time.monotonic() + timeout
        while not http_ok(url):
            self.check_alive()
            if time.monotonic() > deadline:
                raise SupervisionError(
                    f"the {self.name} did not answer {url} within {timeout:.0f}s; "
                    f"its log {self.log} ends with:\n{self.log_tail()}"
                )
            time.sleep(0.2)


def http_ok(url: str) -> bool:
    """True when GET ``url`` (plain http) answers 2xx; connection errors mean "not yet"."""
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=3)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        response.read()
        return 200 <= response.status < 300
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(Exception):
            conn.close()
