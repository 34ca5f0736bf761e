"""Shared fixtures, one plugin module per real component the tests start.

- fixtures.controlplane: a real kube-apiserver + etcd (+ kube-controller-manager), CRDs installed.
- fixtures.emulator: the Nylas v3 emulator as a real HTTP server.
- fixtures.operator: the operator running against both.
- fixtures.node: a control plane with a node (kubelet + containerd) and the project's image.
- fixtures.leaks: the secret values the tests used and the session's artifacts, for the leak scan.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.leaks",  # first: fixtures.operator imports it, and it must be assert-rewritten
    "fixtures.controlplane",
    "fixtures.emulator",
    "fixtures.operator",
    "fixtures.node",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "leakscan: scans what the whole session left behind; runs last")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leak scans run after every other test (stable order otherwise)."""
    items.sort(key=lambda item: item.get_closest_marker("leakscan") is not None)
