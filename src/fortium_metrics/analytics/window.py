"""Time windows of reads: [start, end) in UTC, from ISO 8601 text or "the last N days"."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

from ..errors import Invalid
from ..events import as_utc


class Window(BaseModel):
    start: datetime
    end: datetime

    @classmethod
    def last(cls, days: int = 7, now: datetime | None = None) -> "Window":
        if not 1 <= days <= 366:
            raise Invalid("days: must be between 1 and 366", field="days")
        end = now or datetime.now(timezone.utc)
        return cls(start=end - timedelta(days=days), end=end)

    @classmethod
    def parse(cls, start: str | None, end: str | None, days: int = 7) -> "Window":
        if not start and not end:
            return cls.last(days)
        parsed_end = _instant(end, "end") if end else datetime.now(timezone.utc)
        try:
            parsed_start = _instant(start, "start") if start else parsed_end - timedelta(days=days)
        except OverflowError:  # `days` before the first day of the calendar
            raise Invalid("days: the window would start before the year 1", field="days") from None
        if parsed_start > parsed_end:  # equal is a valid, empty window
            raise Invalid("start: must not be after end", field="start")
        return cls(start=parsed_start, end=parsed_end)


def _instant(text: str, field: str) -> datetime:
    """An ISO 8601 query value as a UTC instant (no offset means UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise Invalid(f"{field}: not an ISO 8601 date or time ({error})", field=field) from None
    try:
        return as_utc(value)
    except ValueError as error:  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
        raise Invalid(f"{field}: {error}", field=field) from None
