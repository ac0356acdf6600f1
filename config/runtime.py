"""How a keepwarm process runs, whatever its command: the garbage collector's pace."""

from __future__ import annotations

import gc

# CPython collects its young generation every 700 allocations (generations 1 and 2 every
# 10 of the one below). A keepwarm process allocates millions of objects importing MLflow,
# scikit-learn, SciPy, pandas and Prefect, nearly all kept for its life, and scanned them
# again and again: about 1 s of the 5-6 s of CPU those imports cost
# (`/usr/bin/time python -c "import flows.pipeline, serving.main"`: 5.2-6.3 s user with
# the defaults, 4.3-4.7 s with these, three runs each on the 2-core machine, 2026-12-02).
# Cycles are still collected, in larger steps (the `gc` module's documentation:
# set_threshold).
GC_THRESHOLDS = (10_000, 20, 20)


def pace_garbage_collector() -> None:
    """Collect garbage at ``GC_THRESHOLDS``: for a process's entry point, before its imports."""
    gc.set_threshold(*GC_THRESHOLDS)
