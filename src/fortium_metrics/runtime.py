"""Settings of the Python process itself for a long-running server (`serve`)."""
from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 50_000  # allocations; CPython's default is 700


def tune_gc_for_serving() -> None:
    """Ingestion allocates many short-lived containers per event (parsed JSON, models, rows). With
    CPython's default thresholds the cyclic collector ran so often, each time walking every
    object a waiting batch holds, that it took about 40% of the server's CPU under batch load
    (bench/bench_ingest_copy.py, docs/benchmarks.md). What exists once the app is built (modules,
    schemas, the app) is frozen out of collection, and young collections run far less often.
    Memory is still freed by reference counting at once; only cycles wait a little longer."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 20, 100)
