"""Shared fixtures, one plugin module per real component the tests start.

- fixtures.controlplane: a real kube-apiserver + etcd (+ kube-controller-manager), CRDs installed.
- fixtures.emulator: the Nylas v3 emulator as a real HTTP server.
- fixtures.operator: the operator running against both.
"""

pytest_plugins = [
    "fixtures.controlplane",
    "fixtures.emulator",
    "fixtures.operator",
]
