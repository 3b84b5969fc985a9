"""One machine-readable line per measured step, for `benchmarks/run_all.py`'s summary table.

    BENCH-RESULT {"job": "claims_scrub", "unit": "claim", "units": 500, "elapsed_s": 2.8, ...}

The load average is taken when the step ends: on a shared host it says how far to trust the figure.
"""

from __future__ import annotations

import json
import os

PREFIX = "BENCH-RESULT "


def emit(job: str, *, unit: str, units: int, elapsed_s: float, **extra: object) -> None:
    load = os.getloadavg()
    record = {
        "job": job,
        "unit": unit,
        "units": units,
        "elapsed_s": round(elapsed_s, 3),
        "per_s": round(units / elapsed_s, 2) if elapsed_s else None,
        "load": [round(x, 2) for x in load],
        **extra,
    }
    print(PREFIX + json.dumps(record), flush=True)
