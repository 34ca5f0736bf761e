"""Pure logic of the dev cluster: version parsing, kubectl choice, cache paths, ports, pid identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.controlplane import namespace_name
from nylas_operator.devcluster import build, controlplane, processes


def version_json(minor: str, git_version: str = "v1.33.1") -> str:
    return json.dumps({"clientVersion": {"major": "1", "minor": minor, "gitVersion": git_version}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (version_json("33"), 33),
        (version_json("34+", "v1.34.2-gke.1"), 34),
        (version_json("32+", "v1.32.4-dispatcher"), None),  # the google-cloud-sdk dispatcher
        ("", None),
        ("not json", None),
        (json.dumps({"clientVersion": {}}), None),
    ],
)
def test_parse_kubectl_minor(text: str, expected: int | None) -> None:
    assert build.parse_kubectl_minor(text) == expected


def test_versioned_kubectl_files_are_sorted_by_minor_not_text() -> None:
    listing = [
        "/usr/lib/google-cloud-sdk/bin/kubectl",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.9",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.33",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.28",
        "/usr/share/doc/kubectl/copyright",
    ]
    assert build.sorted_kubectl_files(listing) == [
        Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33"),
        Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.28"),
        Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.9"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("go1.26.8\n", (1, 26)), ("go version go1.24.0 linux/amd64", (1, 24)), ("devel", None)],
)
def test_parse_go_version(text: str, expected: tuple[int, int] | None) -> None:
    assert build.parse_go_version(text) == expected


def test_bin_dir_is_per_version_under_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(build.BIN_DIR_ENV, raising=False)
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    assert build.bin_dir() == tmp_path / "bin" / "k8s-v1.34.4-etcd-v3.6.4-helm-v3.19.5"
    monkeypatch.setenv(build.BIN_DIR_ENV, str(tmp_path / "prebuilt"))
    assert build.bin_dir() == tmp_path / "prebuilt"


def test_missing_binaries_without_build_name_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(build.BIN_DIR_ENV, raising=False)
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    with pytest.raises(build.BuildError, match=r"kube-apiserver.*cluster build"):
        build.ensure_binaries(build=False)


def test_wrapper_modules_are_package_data() -> None:
    for module in ("k8s", "etcd", "helm"):
        for name in ("go.mod", "go.sum", "tools.go"):
            assert (build.MODULES_DIR / module / name).is_file()
    assert "k8s.io/kubernetes v1.34.4" in (build.MODULES_DIR / "k8s" / "go.mod").read_text()


def test_cluster_build_without_go_prints_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": str(tmp_path),  # no go, no kubectl, no dpkg
        "HOME": str(tmp_path),
        build.CACHE_ENV: str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "nylas_operator.cli", "cluster", "build"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Go toolchain is missing" in lines[0] and "golang >= 1.24" in lines[0]


def test_free_ports_are_distinct_loopback_ports() -> None:
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5
    assert all(1024 < port < 65536 for port in ports)


def test_parse_stat_handles_spaces_and_parentheses_in_the_name() -> None:
    fields = ["S", *[str(n) for n in range(4, 22)], "123456", "0"]
    stat = f"42 (weird ) name) {' '.join(fields)}"
    assert processes.parse_stat(stat) == ("S", 123456)


def test_a_recycled_pid_is_not_our_process() -> None:
    me = processes.identify(os.getpid())
    assert processes.is_running(me)
    assert not processes.is_running(processes.ProcessId(me.pid, me.start_time + 1))


def test_namespace_names_are_valid() -> None:
    name = namespace_name("test_Something[param-A/B]" + "x" * 80)
    assert len(name) <= 63
    assert name.startswith("t-test-something-param-a-b-")
    assert name == name.lower() and all(c.isalnum() or c == "-" for c in name)


def test_up_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    assert controlplane.is_usable_directory(tmp_path / "missing")
    assert controlplane.is_usable_directory(tmp_path)
    (tmp_path / "logs").mkdir()
    assert controlplane.is_usable_directory(tmp_path)
    (tmp_path / "pki").mkdir()
    assert not controlplane.is_usable_directory(tmp_path)
    (tmp_path / controlplane.STATE_FILE).write_text("{}")
    assert controlplane.is_usable_directory(tmp_path)


def test_down_touches_nothing_in_a_directory_without_state(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "kubeconfig").write_text("mine")
    assert controlplane.stop_detached(tmp_path) == 0
    assert (tmp_path / "pki").is_dir() and (tmp_path / "kubeconfig").read_text() == "mine"
