"""Pass 1 of the legacy parser: the cross-file facts no single record can decide.

- Sessions (§7.6): start = init `start_time` or stream `session_start` (earliest), else an
  accepted summary's `start_time`, else the earliest event. End = the accepted summary's
  `end_time`; else the earliest UUID `session_end` stream line; else, for a session known only
  from G1 collector records (one collector process), its last event; else open (trap 3).
- Summaries (trap 2): accepted only if `sessions/<id>.jsonl` holds a `session_end` at the same
  instant; when that stream file is gone, the earliest `end_time` per session wins.
- G0 (§3.6): the last line per `invocation_id`, joined to its performance line.

Each decision is pinned to an *anchor*: the location (file, line) of the first copy of the
record it came from. Pass 2 reads files in the same order and emits the session events next to
that record, so every item stays with its own file and copies never anchor anything.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from .legacy_events import PERF_FIELDS
from .legacy_files import is_context_file
from .legacy_shapes import (BadRecord, canonical_key, classify, drop_secrets, is_uuid, iter_records, may_name_a_session,
                            parse_time)

Loc = tuple[str, int]  # (file, line)
# The fields of a G0 performance line its invocation's event takes (legacy_events.g0_invocation).
G0_JOINED = ("execution_time_ms", *PERF_FIELDS)
# Shapes that are events of a session (first/last event) when their session id is a UUID.
EVENT_SHAPES = frozenset({"tool", "tool_node", "agent", "g1_tool", "g1_command", "g1_agent", "hybrid",
                          "spec_tool", "spec_agent"})


@dataclass(slots=True)
class _Mark:
    moment: datetime
    order: int
    loc: Loc


@dataclass(slots=True)
class _Session:
    starts: list[tuple[_Mark, str]] = field(default_factory=list)  # (mark, "init" | "stream")
    stream_ends: list[_Mark] = field(default_factory=list)
    summaries: list[tuple[_Mark, datetime | None]] = field(default_factory=list)  # (end mark, start)
    first: _Mark | None = None
    last: _Mark | None = None
    only_g1: bool = True  # every record naming it is a G1 collector record


@dataclass(frozen=True, slots=True)
class Anchor:
    what: str  # "start" | "end"
    session: str
    moment: datetime
    origin: str  # start: init|stream|summary|first_event; end: summary|stream|last_event
    is_open: bool = False


@dataclass
class Decisions:
    anchors: dict[Loc, list[Anchor]] = field(default_factory=dict)
    accepted_summaries: set[Loc] = field(default_factory=set)
    g0_final: dict[str, bytes] = field(default_factory=dict)  # invocation id -> key of its last line
    g0_performance: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_counts: dict[str, int] = field(default_factory=dict)


def with_file_session(record: dict[str, Any], path: Path) -> dict[str, Any]:
    """`record` with the session of the stream file it sits in (`sessions/<id>.jsonl`) when it
    names none itself: spec-shape `command_start` lines carry no `session_id`."""
    if record.get("session_id") is None and path.parent.name == "sessions" and path.suffix == ".jsonl":
        return {**record, "session_id": path.stem}
    return record


class ContextScan:
    """Reads the files once and decides sessions, summaries and G0 joins."""

    def __init__(self, naive_zone: tzinfo) -> None:
        self.zone = naive_zone
        self.sessions: dict[str, _Session] = {}
        self.stream_files: set[str] = set()
        self.g0_final: dict[str, bytes] = {}
        self.g0_performance: dict[str, dict[str, Any]] = {}
        self.order = 0

    def scan(self, files: Iterable[Path]) -> Decisions:
        for path in files:
            if path.parent.name == "sessions" and path.suffix == ".jsonl" and is_uuid(path.stem):
                self.stream_files.add(path.stem)
            try:
                self._scan_file(path)
            except OSError:
                continue  # pass 2 reports the unreadable file
        return self._decide()

    def _scan_file(self, path: Path) -> None:
        only = None if is_context_file(path) else may_name_a_session
        source = str(path)  # one string per file in every location kept (a session's marks, anchors)
        for line, record in iter_records(path, only):
            if isinstance(record, BadRecord):
                continue  # reported in pass 2
            self.order += 1
            had_token = drop_secrets(record)
            try:
                self._observe((source, line), record, classify(record, had_token))
            except BadRecord:
                continue  # an unreadable time decides nothing; pass 2 reports the record

    def _session(self, session: str) -> _Session:
        found = self.sessions.get(session)
        if found is None:
            found = self.sessions[session] = _Session()
        return found

    def _observe(self, loc: Loc, record: dict[str, Any], shape: str) -> None:
        session = record.get("session_id")
        if shape in EVENT_SHAPES:
            if is_uuid(session) and record.get("tool_name") != "pre":
                self._event(self._session(session), loc, record, shape)
        elif shape == "stream" and record.get("event") == "command_start":
            self._command_start(loc, record)
        elif shape == "stream" and is_uuid(session):
            self._stream(self._session(session), loc, record)
        elif shape == "session_init" and is_uuid(session):
            mark = _Mark(parse_time(record.get("start_time")), self.order, loc)
            self._session(session).starts.append((mark, "init"))
            self.sessions[session].only_g1 = False
        elif shape == "summary" and is_uuid(session):
            end = _Mark(parse_time(record.get("end_time")), self.order, loc)
            start = parse_time(record["start_time"]) if record.get("start_time") else None
            self._session(session).summaries.append((end, start))
            self.sessions[session].only_g1 = False
        elif shape == "g0_invocation" and isinstance(record.get("invocation_id"), str):
            self.g0_final[record["invocation_id"]] = canonical_key(record)  # the last line wins
        elif shape == "g0_performance" and isinstance(record.get("invocation_id"), str):
            # Only what the join uses: one G0 line in three is a performance line.
            self.g0_performance[record["invocation_id"]] = {k: record[k] for k in G0_JOINED if k in record}

    def _event(self, found: _Session, loc: Loc, record: dict[str, Any], shape: str) -> None:
        mark = _Mark(parse_time(record.get("timestamp")), self.order, loc)
        # Strict comparisons: on a tie the first record read anchors, and that is the copy
        # pass 2 keeps.
        if found.first is None or mark.moment < found.first.moment:
            found.first = mark
        if found.last is None or mark.moment > found.last.moment:
            found.last = mark
        if not shape.startswith("g1_"):
            found.only_g1 = False

    def _command_start(self, loc: Loc, record: dict[str, Any]) -> None:
        """A spec-shape `command_start` (§3.8) is an event of its stream file's session."""
        session = with_file_session(record, Path(loc[0])).get("session_id")
        if is_uuid(session):
            self._event(self._session(session), loc, record, "spec_command")

    def _stream(self, found: _Session, loc: Loc, record: dict[str, Any]) -> None:
        event = record.get("event")
        if event not in ("session_start", "session_end"):
            return
        found.only_g1 = False
        mark = _Mark(parse_time(record.get("timestamp")), self.order, loc)
        if event == "session_start":
            found.starts.append((mark, "stream"))
        else:
            found.stream_ends.append(mark)

    def _decide(self) -> Decisions:
        decisions = Decisions(g0_final=self.g0_final, g0_performance=self.g0_performance)
        counts = dict.fromkeys(("sessions", "sessions_open", "sessions_ended_by_summary",
                                "sessions_ended_by_stream", "sessions_ended_by_last_event"), 0)
        for session, found in self.sessions.items():
            end = self._end(session, found, decisions)
            start = self._start(found, end)
            if start is None and end is None:
                continue
            counts["sessions"] += 1
            counts[f"sessions_ended_by_{end[1]}" if end else "sessions_open"] += 1
            if start is not None:  # else only an end is known: the store starts it at its end
                mark, origin = start
                anchor = Anchor("start", session, mark.moment, origin, is_open=end is None)
                decisions.anchors.setdefault(mark.loc, []).append(anchor)
            if end is not None:
                decisions.anchors.setdefault(end[0].loc, []).append(Anchor("end", session, end[0].moment, end[1]))
        decisions.session_counts = counts
        return decisions

    def _end(self, session: str, found: _Session, decisions: Decisions) -> tuple[_Mark, str] | None:
        summary = self._accepted_summary(session, found)
        if summary is not None:
            decisions.accepted_summaries.add(summary[0].loc)
            return summary[0], "summary"
        if found.stream_ends:
            return min(found.stream_ends, key=lambda m: (m.moment, m.order)), "stream"
        if found.only_g1 and found.last is not None and not found.starts:
            return found.last, "last_event"
        return None

    def _accepted_summary(self, session: str, found: _Session) -> tuple[_Mark, datetime | None] | None:
        if not found.summaries:
            return None
        if session in self.stream_files:
            ends = {m.moment for m in found.stream_ends}
            matching = [s for s in found.summaries if s[0].moment in ends]
            return min(matching, key=lambda s: s[0].order) if matching else None
        return min(found.summaries, key=lambda s: (s[0].moment, s[0].order))

    def _start(self, found: _Session, end: tuple[_Mark, str] | None) -> tuple[_Mark, str] | None:
        if found.starts:
            return min(found.starts, key=lambda s: (s[0].moment, s[0].order))
        summary = next((s for s in found.summaries if end and s[0] is end[0] and s[1] is not None), None)
        if summary is not None:
            return _Mark(summary[1], summary[0].order, summary[0].loc), "summary"
        if found.first is not None:
            return found.first, "first_event"
        return None
