"""What build this is: the package version and the git commit it was built from.

Owns: reading the commit. ``make release`` and the image build write it to ``BUILD_COMMIT`` (next
to this file, ignored by git) before building the wheel, so a wheel or an image knows its commit
without git. A source checkout (editable install) asks git; anything else says ``unknown``.
Does not own: the version itself (``pyproject.toml``, read through the installed metadata).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

from nylas_operator import __version__

UNKNOWN = "unknown"
COMMIT_FILE = Path(__file__).with_name("BUILD_COMMIT")
_COMMIT = re.compile(r"[0-9a-f]{7,40}(-dirty)?")


def _from_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if _COMMIT.fullmatch(text) else None


def _source_tree(package: Path) -> Path | None:
    """The project checkout holding ``package`` (operator/nylas_operator), if it is one.

    An installed package is never asked: site-packages may sit inside some other repository.
    """
    root = package.parent.parent
    if package.parent.name == "operator" and (root / "pyproject.toml").is_file():
        return root
    return None


def _from_git(directory: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and _COMMIT.fullmatch(commit) else None


@cache
def git_commit() -> str:
    """The commit baked in at build time, else the checkout's HEAD, else ``unknown``."""
    tree = _source_tree(COMMIT_FILE.parent)
    return _from_file(COMMIT_FILE) or (_from_git(tree) if tree else None) or UNKNOWN


def version() -> str:
    return __version__
