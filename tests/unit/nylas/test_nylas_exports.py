"""The package surface is explicit: ``__all__`` lists exactly the public names it imports."""

from __future__ import annotations

import types

import nylas_operator.nylas as package


def test_all_matches_the_public_names() -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(package.__all__) == public
    assert len(package.__all__) == len(set(package.__all__))
