"""Fixtures of the chart tests: a `cluster` wrapper (helm + kubectl) over the session control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chart_tools import Cluster


@pytest.fixture(scope="module")
def cluster(control_plane) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    yield Cluster(control_plane.kubeconfig, control_plane.binaries.kubectl)
