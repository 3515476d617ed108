"""Prometheus metrics: what the process counts (this module's registry) and what it reads from its
parts when scraped (web/metrics.py adds those gauges: ingestion queue, DB pool, WebSocket clients).

Labels are bounded on purpose: a source name, a route TEMPLATE (`/api/users/{id}`, never the
path), a status code, a job name. Nothing that names an organisation, a person or a credential.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INGEST_EVENTS = Counter("fortium_ingest_events", "Events received for ingestion, by source and outcome "
                        "(accepted, duplicate, rejected).", ["source", "outcome"], registry=REGISTRY)
INGEST_SECONDS = Histogram("fortium_ingest_seconds", "Time from a batch's arrival at record_events to its durable "
                           "acknowledgement, by source.", ["source"], registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
GROUP_COMMIT_EVENTS = Histogram("fortium_ingest_group_commit_events", "Events written per ingestion transaction "
                                "(group commit size).", registry=REGISTRY,
                                buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 20000, 50000))
HTTP_REQUESTS = Counter("fortium_http_requests", "HTTP requests by method, route template and status.",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram("fortium_http_request_seconds", "HTTP request duration by route template.",
                         ["route"], registry=REGISTRY)
JOB_RUNS = Counter("fortium_job_runs", "Scheduled job runs by outcome: ok, failed, skipped (another process holds "
                   "the job).", ["job", "outcome"], registry=REGISTRY)


def observe_ingest(source: str, result, seconds: float | None) -> None:
    """Count a record_events call: its events by outcome and, when it reached the writer, its latency."""
    if seconds is not None:
        INGEST_SECONDS.labels(source).observe(seconds)
    for outcome, count in (("accepted", result.accepted), ("duplicate", result.duplicates),
                           ("rejected", result.rejected)):
        if count:
            INGEST_EVENTS.labels(source, outcome).inc(count)
