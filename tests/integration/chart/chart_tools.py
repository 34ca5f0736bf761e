"""Helpers of the chart tests: running helm and kubectl, rendering with value sets, can-i.

Owns no fixture state; `conftest.py` wires these to the session control plane.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "nylas-operator"
KINDS = {"nylasconnectors", "nylascredentials", "serviceaccountgrants"}


def load_generator() -> ModuleType:
    """charts/generate.py is a script, not a package module: load it by path."""
    spec = importlib.util.spec_from_file_location("chart_generate", ROOT / "charts" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("chart_generate", module)
    spec.loader.exec_module(module)
    return module


def helm_path() -> Path:
    from nylas_operator.devcluster.build import bin_dir

    helm = bin_dir() / "helm"
    assert helm.exists(), f"{helm} is missing: run `make control-plane` (never skipped: see tests/fixtures)"
    return helm


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(env) if env is not None else None,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args[:3])}... failed ({result.returncode}):\n{result.stderr}")
    return result


def values_file(tmp_path: Path, values: Mapping[str, Any], name: str = "values.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict(values)), encoding="utf-8")
    return path


def template(
    values: Mapping[str, Any],
    tmp_path: Path,
    *,
    release: str = "nylas-operator",
    namespace: str = "nylas-operator",
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    vf = values_file(tmp_path, values, f"values-{release}-{namespace}.yaml")
    return run(
        [str(helm_path()), "template", release, str(CHART), "-n", namespace, "-f", str(vf)], check=check
    )


def render(values: Mapping[str, Any], tmp_path: Path, **kw: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(template(values, tmp_path, **kw).stdout) if d]


def by_kind(objects: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: Sequence[Mapping[str, Any]], kind: str, name: str | None = None) -> Mapping[str, Any]:
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def container(objects: Sequence[Mapping[str, Any]], name: str = "operator") -> Mapping[str, Any]:
    """The only container named ``name`` (``operator``, or ``consent-server``) of any Deployment."""
    found = [
        c
        for deploy in by_kind(objects, "Deployment")
        for c in deploy["spec"]["template"]["spec"]["containers"]
        if c["name"] == name
    ]
    assert len(found) == 1, f"{len(found)} containers named {name}"
    return found[0]


def dump_all(objects: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"---\n{yaml.safe_dump(dict(o))}" for o in objects)


class Cluster:
    """helm and kubectl against the session control plane."""

    def __init__(self, kubeconfig: Path, kubectl: Path) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl_bin = kubectl
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run([str(self.kubectl_bin), *args], env=self.env, input=input, check=check)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([str(helm_path()), *args], env=self.env, check=check, timeout=180)

    def can_i(self, sa: str, verb: str, resource: str, namespace: str | None) -> bool:
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        result = self.kubectl("auth", "can-i", verb, resource, f"--as={sa}", *scope, check=False)
        answer = result.stdout.strip()
        assert answer in ("yes", "no"), result.stderr
        return answer == "yes"
