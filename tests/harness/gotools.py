"""The Go test harnesses (``tests/harness/<name>/``): built from the Go module proxy, cached, run.

Owns: building ``kstatus`` (sigs.k8s.io/cli-utils' kstatus library) and ``gopherlua`` (the Lua engine
Argo CD embeds) into the cache beside the control-plane binaries, keyed by a hash of their sources
and the Go version, so a changed go.mod or main.go rebuilds and an unchanged one never does; running
them on a list of objects. A missing Go toolchain or a failed build FAILS the test (never a skip: a
green run must mean the checks ran). Built with the same flags as the control plane, so on a machine
that built it the Go build cache already holds the standard library and k8s.io/api.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from nylas_operator.devcluster import build

HARNESS_DIR = Path(__file__).resolve().parent
SOURCES = ("go.mod", "go.sum", "main.go")


def _digest(name: str, go_version: str) -> str:
    sha = hashlib.sha256(go_version.encode())
    for source in SOURCES:
        sha.update(source.encode() + b"\0" + (HARNESS_DIR / name / source).read_bytes())
    return sha.hexdigest()[:16]


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Two test runs on one machine build a harness once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def binary(name: str) -> Path:
    """The harness ``name`` built from ``tests/harness/<name>`` (built once per source change)."""
    try:
        go = build.check_go()
    except build.BuildError as exc:
        pytest.fail(f"the {name} harness needs Go: {exc}", pytrace=False)
    env = build._go_env()  # the control plane's flags: -mod=readonly, no cgo, local toolchain
    version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    out_dir = build.cache_root() / "bin" / "harness"
    target = out_dir / f"{name}-{_digest(name, version)}"
    if target.is_file():
        return target
    with _lock(out_dir / f".{name}.lock"):
        if target.is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=out_dir))
        try:
            result = subprocess.run(
                [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(tmp / name), "."],
                cwd=HARNESS_DIR / name,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-10:])
                pytest.fail(f"building the {name} harness failed: {tail}", pytrace=False)
            os.replace(tmp / name, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run(args: Sequence[str], objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    result = subprocess.run(
        list(args), input=json.dumps(list(objects)), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    verdicts: list[dict[str, Any]] = json.loads(result.stdout)
    assert len(verdicts) == len(objects)
    return verdicts


def kstatus(objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """kstatus's own ``status.Compute`` of each object: ``{"status", "message"}`` (or ``"error"``)."""
    return _run([str(binary("kstatus"))], objects)


def gopher_lua(script: Path, objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Argo CD's way of running a health script, in gopher-lua: ``{"status", "message"}`` or ``"error"``."""
    return _run([str(binary("gopherlua")), str(script)], objects)
