#!/usr/bin/env python3
"""`make release`: the wheel, the chart package and the image build command, all of one version.

Owns: the release's version rule — `pyproject.toml` holds the one version; the chart's `version`
and `appVersion` (hence the default image tag) and the newest release of `CHANGELOG.md` must equal
it — baking the git commit into the wheel (`operator/nylas_operator/BUILD_COMMIT`, removed after
the build), `helm package`, and the image build command (printed; run with --build-image).
Does not own: publishing (docs/release.md: registries and signing are the releaser's).

Usage: python hack/release.py [--dist DIR] [--image REPOSITORY] [--build-image] [--check]
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from nylas_operator.devcluster.build import find_helm

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "nylas-operator"
COMMIT_FILE = ROOT / "operator" / "nylas_operator" / "BUILD_COMMIT"
DEFAULT_IMAGE = "ghcr.io/nylas-operator/nylas-operator"
# "## [0.1.0] - 2026-11-29" (Keep a Changelog); "## [Unreleased]" is skipped.
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+[^\]]*)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE)


class ReleaseError(RuntimeError):
    """The tree cannot be released as it is."""


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def chart_versions(root: Path = ROOT) -> tuple[str, str]:
    chart = yaml.safe_load((root / "charts" / "nylas-operator" / "Chart.yaml").read_text(encoding="utf-8"))
    return str(chart["version"]), str(chart["appVersion"])


def changelog_version(root: Path = ROOT) -> str | None:
    found = RELEASE_HEADING.search((root / "CHANGELOG.md").read_text(encoding="utf-8"))
    return found.group(1) if found else None


def version_drift(root: Path = ROOT) -> list[str]:
    """Every place whose version differs from pyproject.toml's, as readable lines."""
    want = project_version(root)
    chart_version, app_version = chart_versions(root)
    problems = []
    for field, found in (("version", chart_version), ("appVersion", app_version)):
        if found != want:
            problems.append(f"charts/nylas-operator/Chart.yaml {field} is {found}, pyproject.toml {want}")
    newest = changelog_version(root)
    if newest != want:
        problems.append(f"CHANGELOG.md's newest release is {newest}, pyproject.toml {want}")
    return problems


def git_commit(root: Path = ROOT) -> str:
    """HEAD, with `-dirty` when tracked files differ from it (the build is not that commit)."""
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return "unknown"
    clean = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD"], check=False).returncode == 0
    return result.stdout.strip() + ("" if clean else "-dirty")


def helm_binary() -> str:
    found = find_helm()
    if not found:
        raise ReleaseError("helm not found: run `make control-plane` or set $HELM")
    return found


def build_wheel(dist: Path, commit: str, *, isolation: bool = True) -> Path:
    """The operator's wheel, with `commit` in nylas_operator/BUILD_COMMIT."""
    dist.mkdir(parents=True, exist_ok=True)
    before = set(dist.glob("nylas_operator-*.whl"))
    # pip builds in the tree: a build/ of an earlier build would bring its (stale) BUILD_COMMIT.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    COMMIT_FILE.write_text(commit + "\n", encoding="utf-8")
    try:
        args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist)]
        if not isolation:  # offline (tests): the venv's setuptools and wheel
            args.append("--no-build-isolation")
        result = subprocess.run([*args, str(ROOT)], capture_output=True, text=True, check=False)
    finally:
        COMMIT_FILE.unlink(missing_ok=True)
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    if result.returncode != 0:
        raise ReleaseError(f"pip wheel failed:\n{result.stderr.strip()}")
    version = project_version()
    wheel = dist / f"nylas_operator-{version}-py3-none-any.whl"
    if not wheel.exists():
        made = sorted(set(dist.glob("nylas_operator-*.whl")) - before)
        raise ReleaseError(f"expected {wheel.name}, pip made {[p.name for p in made]}")
    return wheel


def package_chart(dist: Path) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [helm_binary(), "package", str(CHART), "--destination", str(dist)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ReleaseError(f"helm package failed:\n{result.stderr.strip()}")
    chart_version, _ = chart_versions()
    return dist / f"nylas-operator-{chart_version}.tgz"


def image_command(image: str, version: str, commit: str) -> list[str]:
    return ["docker", "build", "--build-arg", f"GIT_COMMIT={commit}", "-t", f"{image}:{version}", str(ROOT)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output directory (default dist/)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"image repository (default {DEFAULT_IMAGE})")
    parser.add_argument("--build-image", action="store_true", help="run the image build (needs docker)")
    parser.add_argument("--check", action="store_true", help="only check that every version agrees")
    parser.add_argument(
        "--no-build-isolation", action="store_true", help="build the wheel with this venv's setuptools"
    )
    args = parser.parse_args(argv)
    try:
        problems = version_drift()
        if problems:
            raise ReleaseError("versions disagree:\n  " + "\n  ".join(problems))
        version = project_version()
        if args.check:
            print(f"version {version}: pyproject.toml, Chart.yaml and CHANGELOG.md agree")
            return 0
        commit = git_commit()
        wheel = build_wheel(args.dist, commit, isolation=not args.no_build_isolation)
        chart = package_chart(args.dist)
        command = image_command(args.image, version, commit)
        print(f"nylas-operator {version} (commit {commit})")
        print(f"wheel: {wheel}")
        print(f"chart: {chart}")
        print(f"image: {shlex.join(command)}")
        if args.build_image:
            if not shutil.which("docker"):
                raise ReleaseError("--build-image needs docker on PATH")
            subprocess.run(command, check=True)
        print("publishing (registries, signing): docs/release.md")
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
