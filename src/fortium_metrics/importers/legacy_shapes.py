"""Legacy local-metrics records: reading lines, telling the shapes apart, timestamps, secrets.

Shared by both passes of the legacy parser (see `legacy.py`). The rules come from
docs/formats/legacy-local-metrics.md; section numbers below refer to it.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

import orjson

# Keys that hold plaintext credentials (trap 9). Dropped the moment a record is read, so they
# never reach the dedup hash, an event, a log line or an error message.
SECRET_KEYS = ("auth_token", "token", "accessToken", "refreshToken", "access_token", "refresh_token")

# NaN/Infinity become null: Node saved NaN counters as null anyway (trap 5), and PostgreSQL JSON
# refuses NaN, which would fail a whole batch.
_raw_decode = json.JSONDecoder(parse_constant=lambda _name: None).raw_decode
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_uuid_cache: dict[str, bool] = {}
# One encoder for every record (`json.dumps` with options builds one per call); decoded JSON
# cannot be circular, so the encoder need not check.
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False).encode


class BadRecord(Exception):
    """A record that cannot be imported; the message is the reason shown to the user. It must
    never quote record content (which may hold secrets)."""


Record = dict[str, Any]


def iter_records(path: Path, only: Callable[[bytes], bool] | None = None,
                 progress: Any = None) -> Iterator[tuple[int, Record | BadRecord]]:
    """(line number, object or BadRecord) for each record of a data file. `.json` files hold one
    (indented) object; everything else is JSONL. Blank lines, and blank files, are not records.
    `only`: a cheap test on the raw line; lines failing it are not decoded at all. `progress`: a
    ParseStats whose `bytes_read` grows as the file is read."""
    if path.suffix == ".json":
        raw = path.read_bytes()
        if progress is not None:
            progress.bytes_read += len(raw)
        if raw.strip():
            yield 1, _decode(raw)
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if progress is not None:
                progress.bytes_read += len(raw)
            if only is not None and not only(raw):
                continue
            try:  # the common case, inline: this loop runs once per line. orjson builds the same
                # objects as json; what it refuses (NaN, integers beyond 64 bits, invalid UTF-8, lone
                # surrogates, a BOM) takes the standard library's path below, as before.
                obj = orjson.loads(raw)
                if type(obj) is dict:
                    yield number, obj
                    continue
            except ValueError:
                pass
            if not raw.isspace():
                yield number, _decode(raw)  # the slow path names the problem


_UUID_SESSION = re.compile(rb'"session_id"\s*:\s*"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-')


def may_name_a_session(raw: bytes) -> bool:
    """False when a raw line certainly has no UUID `session_id`: such lines of the big tool
    files cannot bound a session, so pass 1 need not decode them."""
    return _UUID_SESSION.search(raw) is not None


def _decode(raw: bytes) -> dict[str, Any] | BadRecord:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadRecord(f"not valid UTF-8 (byte {error.start})")
    try:  # raw_decode: `decode`/`json.loads` scan the whitespace around every line with a regex
        obj, end = _raw_decode(text)
    except ValueError:
        text = text.lstrip("\ufeff \t\r\n")  # a BOM or leading blanks: rare, so tried second
        try:
            obj, end = _raw_decode(text)
        except ValueError as error:
            return BadRecord(f"not valid JSON: {error}")
    if end != len(text) and not text[end:].isspace():
        return BadRecord(f"not valid JSON: extra data after the object (column {end + 1})")
    if not isinstance(obj, dict):
        return BadRecord(f"not a JSON object (got {type(obj).__name__})")
    return obj


def drop_secrets(obj: dict[str, Any]) -> bool:
    """Remove credential fields in place; True when the record carried `auth_token`."""
    if obj.keys().isdisjoint(SECRET_KEYS):  # one C-level test for the usual record
        return False
    had_token = "auth_token" in obj
    for key in SECRET_KEYS:
        obj.pop(key, None)
    return had_token


def canonical_key(obj: dict[str, Any]) -> bytes:
    """The dedup identity of a record (§7.4): its JSON with sorted keys (secrets already gone),
    so Python and Node spacing of the same record compare equal."""
    return hashlib.blake2b(_canonical_json(obj).encode(), digest_size=16).digest()


def is_uuid(value: Any) -> bool:
    """Only UUIDs are sessions; `default`, `default-session` and the like are not (trap 1)."""
    if not isinstance(value, str):
        return False
    known = _uuid_cache.get(value)
    if known is None:
        known = _uuid_cache[value] = len(value) == 36 and _UUID.fullmatch(value) is not None
        if len(_uuid_cache) > 100_000:  # session ids repeat; unbounded growth would be a leak
            _uuid_cache.clear()
    return known


def classify(obj: dict[str, Any], had_token: bool = False) -> str:
    """The record's shape, by the ordered tests of §5 (`had_token`: the record carried an
    `auth_token` before `drop_secrets` removed it)."""
    if "event" in obj:
        return "stream"
    kind = obj.get("event_type")
    if kind == "tool_execution":
        return "tool_node" if had_token or "enhanced_activity" in obj else "tool"
    if kind == "agent_invocation":
        return "agent"
    if kind in ("tool", "command", "agent"):
        return f"g1_{kind}"
    if kind is None:
        return _classify_untyped(obj)
    return "unknown"


def _classify_untyped(obj: dict[str, Any]) -> str:
    if "source" in obj and "status" in obj:
        return "hybrid"
    if "invocation_id" in obj:
        if "agent_name" in obj:
            return "g0_invocation"
        if "execution_time_ms" in obj:
            return "g0_performance"
    if "productivity_metrics" in obj:
        return "session_init"
    if "trend" in obj and "end_time" in obj:
        return "summary"
    if "tool" in obj:
        return "spec_tool"
    if "agent" in obj:
        return "spec_agent"
    return "unknown"


def parse_time(value: Any, naive_zone: tzinfo = timezone.utc) -> datetime:
    """A legacy timestamp as an aware UTC datetime (trap 7). Offsets and `Z` are honoured; naive
    values are UTC (Python `utcnow()`) unless the caller knows they are local (G0)."""
    if not isinstance(value, str) or not value:
        raise BadRecord(f"timestamp: missing or not a string ({type(value).__name__})")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRecord(f"timestamp: not an ISO 8601 time ({value[:40]!r})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def time_text(value: Any) -> str:
    """An event's `timestamp` field: validated like `parse_time`; a plain ISO time with an
    explicit offset or `Z` is passed on as written (the event model converts it to UTC), which
    saves formatting a million datetimes. Naive times are written out as UTC."""
    moment = parse_time(value)
    aware = value[-1] == "Z" or value[-6:-5] in ("+", "-")
    if aware and value[4:5] == "-" and value[10:11] in ("T", " "):
        return value
    return moment.isoformat()


def duration_ms(value: Any) -> float | None:
    """A real duration in milliseconds, or None when absent or implausible (negative, > 1 day:
    the event model refuses those, and a bad duration must not cost the whole event)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value <= 86_400_000 else None


def count(value: Any) -> int | None:
    """A non-negative integer counter, or None (null, NaN and strings are unknown, not 0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def outcome(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
