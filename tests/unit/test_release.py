"""One version for the package, the chart and the changelog; the build's git commit.

`hack/release.py` is a script: loaded by path. The wheel and chart it builds are checked in
tests/integration/chart/test_release_package.py.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from nylas_operator import __version__, buildinfo
from nylas_operator.cli import main

ROOT = Path(__file__).resolve().parents[2]


def load_release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_script", ROOT / "hack" / "release.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("release_script", module)
    spec.loader.exec_module(module)
    return module


def head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_package_chart_and_changelog_have_one_version() -> None:
    release = load_release()
    assert release.version_drift() == []
    assert release.chart_versions() == (release.project_version(), release.project_version())
    # The installed package (what `nylas-operator version` says) is the same version.
    assert __version__ == release.project_version()


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (
            ("charts/nylas-operator/Chart.yaml", "version: 0.1.0", "version: 0.1.1"),
            "Chart.yaml version is 0.1.1",
        ),
        (
            ("charts/nylas-operator/Chart.yaml", 'appVersion: "0.1.0"', 'appVersion: "0.2.0"'),
            "appVersion is 0.2.0",
        ),
        (("CHANGELOG.md", "## [0.1.0] - ", "## [0.0.9] - "), "newest release is 0.0.9"),
        (("pyproject.toml", 'version = "0.1.0"', 'version = "0.3.0"'), "pyproject.toml 0.3.0"),
    ],
)
def test_version_drift_is_named(edit: tuple[str, str, str], complaint: str, tmp_path: Path) -> None:
    release = load_release()
    version = release.project_version()
    for rel in ("pyproject.toml", "charts/nylas-operator/Chart.yaml", "CHANGELOG.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    path, old, new = edit
    old, new = old.replace("0.1.0", version), new
    text = (tmp_path / path).read_text()
    assert old in text
    (tmp_path / path).write_text(text.replace(old, new, 1))
    problems = release.version_drift(tmp_path)
    assert problems and any(complaint in p for p in problems), problems


def test_version_command_prints_the_version_and_commit() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0, result.output
    # This checkout is an editable install: the commit comes from git.
    assert result.output == f"nylas-operator {__version__} (commit {head()})\n"


def test_commit_file_wins_and_garbage_is_ignored(tmp_path: Path) -> None:
    baked = tmp_path / "BUILD_COMMIT"
    baked.write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert buildinfo._from_file(baked) == "0123456789abcdef0123456789abcdef01234567"
    baked.write_text("not a commit; rm -rf /\n")
    assert buildinfo._from_file(baked) is None
    assert buildinfo._from_file(tmp_path / "missing") is None


def test_git_is_asked_only_in_a_project_checkout(tmp_path: Path) -> None:
    # An installed package inside some unrelated repository must not report that repository.
    site = tmp_path / "venv" / "site-packages" / "nylas_operator"
    site.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert buildinfo._source_tree(site) is None
    assert buildinfo._source_tree(ROOT / "operator" / "nylas_operator") == ROOT
    assert buildinfo._from_git(ROOT) == head()
    assert buildinfo._from_git(tmp_path) is None  # a repository without commits
    outside = tmp_path.parent / f"{tmp_path.name}-plain"
    outside.mkdir()
    assert buildinfo._from_git(outside) is None  # not a repository at all
