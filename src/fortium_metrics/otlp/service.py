"""Receiving OTLP exports: the service behind /v1/metrics and /v1/logs.

Cumulative counters become deltas per series: delta = value − last value of the same
`startTimeUnixNano`; a new start time or a smaller value is a restart (the value is the delta).
Order of work makes retries safe: compute deltas from the stored state, record the events (their
ids derive from series and time, so a retried export is a duplicate), then advance the state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select

from ..context import AppContext
from ..ingest import IngestResult, record_events, require_scope
from ..principal import Principal
from ..store.models import OtlpSeries
from .mapping import Point, log_events, metric_points, point_event


@dataclass
class Receipt:
    received: int
    rejected: int
    message: str = ""


async def receive_metrics(ctx: AppContext, principal: Principal, request) -> Receipt:
    require_scope(principal, "ingest")
    received = list(metric_points(request))
    # A NaN or infinite point is refused before it becomes a delta or a series' last value: one
    # kept as the last value would make every later delta of that series NaN.
    points = [p for p in received if math.isfinite(p.value)]
    state = await _load_state(ctx, principal, [p.series for p in points if p.cumulative])
    events = []
    for point in points:
        delta = _delta(point, state.get(point.series)) if point.cumulative else point.value
        event = point_event(point, delta, principal.user_id is not None)
        if event is not None:
            events.append(event)
    result = await record_events(ctx.ingestor, principal, events, "otlp", strict_teams=False)
    await _save_state(ctx, principal, [p for p in points if p.cumulative])
    receipt = _receipt(len(received), result)
    if non_finite := len(received) - len(points):
        receipt.rejected += non_finite
        receipt.message = f"{non_finite} data point(s) with a NaN or infinite value; {receipt.message}".rstrip("; ")
    return receipt


async def receive_logs(ctx: AppContext, principal: Principal, request) -> Receipt:
    require_scope(principal, "ingest")
    items = list(log_events(request, principal.user_id is not None))
    events = [item for item in items if item is not None]
    result = await record_events(ctx.ingestor, principal, events, "otlp", strict_teams=False)
    dropped = len(items) - len(events)
    receipt = _receipt(len(items), result)
    if dropped:
        receipt.message = (receipt.message + f"; {dropped} raw API body records dropped (not stored by policy)").lstrip("; ")
    return receipt


def _delta(point: Point, previous: tuple[int, int, float] | None) -> float:
    if previous is None:
        return point.value
    start_ns, time_ns, value = previous
    if point.start_ns != start_ns or point.value < value:
        return point.value  # the process restarted: its counter began again
    if point.time_ns <= time_ns:
        return 0.0  # a retried or out-of-order point we already counted
    return point.value - value


async def _load_state(ctx: AppContext, principal: Principal, series: list[str]) -> dict[str, tuple[int, int, float]]:
    if not series:
        return {}
    async with ctx.store.unit_of_work(principal) as uow:
        rows = await uow.session.scalars(select(OtlpSeries).where(OtlpSeries.series.in_(set(series))))
        return {r.series: (r.start_ns, r.time_ns, r.value) for r in rows}


async def _save_state(ctx: AppContext, principal: Principal, points: list[Point]) -> None:
    if not points:
        return
    async with ctx.store.unit_of_work(principal) as uow:
        for point in points:
            row = await uow.session.get(OtlpSeries, (principal.organization_id, point.series))
            if row is None:
                uow.session.add(OtlpSeries(series=point.series, start_ns=point.start_ns, time_ns=point.time_ns, value=point.value))
            elif point.time_ns > row.time_ns or point.start_ns != row.start_ns:
                row.start_ns, row.time_ns, row.value = point.start_ns, point.time_ns, point.value


def _receipt(received: int, result: IngestResult) -> Receipt:
    message = "; ".join(f"#{e.index}: {e.message}" for e in result.errors[:5])
    return Receipt(received=received, rejected=result.rejected, message=message)
