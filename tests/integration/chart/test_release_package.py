"""`make release` (hack/release.py): the wheel knows its commit, the chart package installs.

The wheel is built offline with this venv's setuptools (--no-build-isolation); the chart's
.tgz is installed with `helm install --dry-run=server` against the session apiserver.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_tools import ROOT, Cluster

from unit.test_release import head, load_release

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    release = load_release()
    assert release.main(["--dist", str(out), "--no-build-isolation"]) == 0
    yield out


def test_release_leaves_no_build_files_in_the_tree(dist: Path) -> None:
    assert not (ROOT / "operator" / "nylas_operator" / "BUILD_COMMIT").exists()
    assert not (ROOT / "build").exists()
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--ignored", "operator"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "BUILD_COMMIT" not in status


def test_the_wheel_carries_the_version_and_the_commit(dist: Path) -> None:
    version = load_release().project_version()
    wheel = dist / f"nylas_operator-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        baked = zf.read("nylas_operator/BUILD_COMMIT").decode().strip()
    assert baked.removesuffix("-dirty") == head()
    assert baked == load_release().git_commit()  # -dirty exactly when tracked files differ from HEAD
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(f"nylas_operator-{version}.dist-info/METADATA").decode()
        names = zf.namelist()
    assert f"\nVersion: {version}\n" in metadata
    assert "nylas_operator/buildinfo.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "charts/"))]


def test_the_chart_package_has_the_version_and_its_files(dist: Path) -> None:
    version = load_release().project_version()
    package = dist / f"nylas-operator-{version}.tgz"
    with tarfile.open(package) as tar:
        names = set(tar.getnames())
        chart = yaml.safe_load(tar.extractfile("nylas-operator/Chart.yaml").read())  # type: ignore[union-attr]
    assert (chart["version"], chart["appVersion"]) == (version, version)
    for needed in (
        "nylas-operator/values.schema.json",
        "nylas-operator/files/argocd/health.lua",
        "nylas-operator/files/grafana/dashboard.json",
        "nylas-operator/files/tests/readyz.py",
        "nylas-operator/templates/crds/nylas-operator.io_nylasconnectors.yaml",
    ):
        assert needed in names, needed


def test_the_chart_package_installs_against_the_apiserver(dist: Path, cluster: Cluster) -> None:
    version = load_release().project_version()
    package = dist / f"nylas-operator-{version}.tgz"
    ns = f"release-{secrets.token_hex(3)}"
    release = f"nylas-operator-pkg-{secrets.token_hex(3)}"
    try:
        # The session's CRDs belong to no release: this one installs without them.
        cluster.helm(
            "install", release, str(package), "-n", ns, "--create-namespace", "--set", "crds.install=false"
        )
        status = json.loads(cluster.helm("status", release, "-n", ns, "-o", "json").stdout)
        assert status["info"]["status"] == "deployed"
        (listed,) = json.loads(cluster.helm("list", "-n", ns, "-o", "json").stdout)
        assert (listed["chart"], listed["app_version"]) == (f"nylas-operator-{version}", version)
        deploy = json.loads(cluster.kubectl("get", "deployment", release, "-n", ns, "-o", "json").stdout)
        image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(f":{version}")  # the image tag is the same version
        # The `helm test` hook is in the package, waiting for `helm test` (no kubelet runs here).
        assert [h["name"] for h in status["hooks"]] == [f"{release}-test-readyz", f"{release}-test-readyz"]
    finally:
        cluster.helm("uninstall", release, "-n", ns, "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


def test_release_refuses_a_version_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = load_release()
    monkeypatch.setattr(release, "version_drift", lambda root=ROOT: ["Chart.yaml version is 9.9.9"])
    assert release.main(["--dist", str(tmp_path)]) == 1
    assert not list(tmp_path.iterdir())  # nothing built
