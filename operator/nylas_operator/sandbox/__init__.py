"""The local sandbox behind `make dev` / `nylas-operator dev`.

A package of small modules: ``command`` (the click command and the order of things), ``supervisor``
(signals and the operator child process), ``manifests`` (examples/ pointed at the emulator),
``progress`` (the rows shown while it runs) and ``messages`` (what it prints). The CLI imports
``dev`` from here; nothing in the product imports this package.
"""

from nylas_operator.sandbox.command import dev

__all__ = ["dev"]
