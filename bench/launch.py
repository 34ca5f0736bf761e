"""Bench-only launcher of ``nylas-operator run`` with the Nylas client's request budget overridden.

The operator paces Nylas calls per application (``settings.NylasSettings.rate``/``burst``, 20/s and
10 by default, below Nylas's 50/s) and has no command-line option for it. To measure the operator's
own overhead against the apiserver floor, a benchmark may lift that budget (the emulator enforces
none): ``BENCH_NYLAS_RATE`` / ``BENCH_NYLAS_BURST`` replace the dataclass defaults before the CLI
runs. Product code is not changed; results say when this was used.
"""

from __future__ import annotations

import os
import sys

from nylas_operator import settings
from nylas_operator.cli import main

if __name__ == "__main__":
    defaults = dict(
        zip(
            ("timeout", "max_attempts", "rate", "burst"),
            settings.NylasSettings.__init__.__defaults__ or (),
            strict=True,
        )
    )
    defaults["rate"] = float(os.environ.get("BENCH_NYLAS_RATE", defaults["rate"]))
    defaults["burst"] = int(os.environ.get("BENCH_NYLAS_BURST", defaults["burst"]))
    settings.NylasSettings.__init__.__defaults__ = tuple(defaults.values())
    sys.exit(main())
