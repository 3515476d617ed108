"""`fortium-metrics import legacy`: the old Fortium "local metrics" files (docs/formats/
legacy-local-metrics.md), as typed events.

Two passes over the files. Pass 1 (`legacy_context`) decides what needs more than one record:
session starts and ends, which summaries to accept, the G0 join. Pass 2 streams every file line
by line, drops secrets, removes copies with the multiset-max rule (§7.4: a record is kept as many
times as it occurs in the one file that holds it most often), and turns each record into events
(`legacy_events`). Items come out file by file, in file order, so the runner can mark each file
done. Event ids derive from record content, never from paths: copies of a file in another root,
or a second import, add nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import legacy_events as ev
from .base import Parsed, ParseStats, RecordError
from .legacy_dedup import MultisetMax
from .legacy_context import Anchor, ContextScan, Decisions, Loc, with_file_session
from .legacy_files import (PROFILES, REPO_DATA, home_of, home_roots, is_context_file, is_named_data_file, label,
                           repo_data_dirs, root_files, roots_of, unique)
from .legacy_shapes import BadRecord, canonical_key, classify, drop_secrets, is_uuid, iso, iter_records, parse_time

# The zone G0's naive `datetime.now()` times are read in when the uploader names none (EXPECTED.md).
DEFAULT_NAIVE_ZONE = "America/Chicago"


class LegacyParser:
    name = "legacy"

    def __init__(self, home: Path | str | None = None, cwd: Path | str | None = None,
                 naive_timezone: str = DEFAULT_NAIVE_ZONE) -> None:
        """`home`/`cwd`: where to look when no path is named (tests pass their own, so the real
        home is never read). `naive_timezone`: the uploader's zone for G0 naive local times."""
        self.home = Path(home).expanduser() if home is not None else Path.home()
        self.cwd = Path(cwd) if cwd is not None else None
        self.zone = ZoneInfo(naive_timezone)
        self._discovered: list[Path] = []
        self._profiles: list[Path] = []
        self.folders: list[str] = []  # the metrics roots and repo-local data folders found (for the report)

    def discover(self, paths: list[Path]) -> list[Path]:
        """Data files only (§2 "yes"); profiles are remembered for identity, never returned."""
        found: list[Path] = []
        homes: list[Path] = []
        roots: list[Path] = []
        if not paths:
            homes.append(self.home)
            repo_data = (self.cwd or Path.cwd()) / REPO_DATA
            roots = home_roots(self.home) + repo_data_dirs(self.home) + ([repo_data] if repo_data.is_dir() else [])
            found = [f for root in roots for f in root_files(root)]
        for path in map(Path, paths):
            if path.is_file():
                found += [path] if is_named_data_file(path) else []
            elif path.is_dir():
                homes.append(path)
                named = roots_of(path)
                roots += named
                found += [f for root in named for f in root_files(root)]
        self.folders = [str(root) for root in unique(roots)]
        self._discovered = unique(found)
        homes += [h for h in map(home_of, self._discovered) if h is not None]
        self._profiles = unique(p for h in homes for p in (h / rel for rel in PROFILES) if p.is_file())
        return list(self._discovered)

    def parse(self, files: list[Path], stats: ParseStats) -> Iterator[Parsed]:
        files = [Path(f) for f in files]
        if not files:
            return
        decisions = ContextScan(self.zone).scan(self._context(files))
        for profile in self._profiles_for(files):
            _read_profile(profile, stats)
        emitter = _Emitter(decisions, stats, self.zone)
        try:
            for path in files:
                yield from emitter.file(path)
            for name, value in decisions.session_counts.items():
                stats.counters[name] = value
            emitter.finish()
        finally:
            emitter.dedup.close()

    def _context(self, files: list[Path]) -> list[Path]:
        """Pass 1 reads the files to import plus, when the runner skipped some as already done,
        the small session/G0 files among them: a summary's stream file decides whether the
        summary is accepted even if only the summary changed."""
        wanted = set(files)
        if not self._discovered or not wanted <= set(self._discovered):
            return files
        return [p for p in self._discovered if p in wanted or is_context_file(p)]

    def _profiles_for(self, files: list[Path]) -> list[Path]:
        """The profiles of the homes discovered (when these files came from that discovery) and
        of the homes the files sit in."""
        discovered = self._profiles if set(files) <= set(self._discovered) else []
        homes = {h for h in map(home_of, files) if h is not None}
        guessed = [h / rel for h in sorted(homes) for rel in PROFILES if (h / rel).is_file()]
        return unique([*discovered, *guessed])


class _Emitter:
    """Pass 2: records of one file at a time → Parsed items, counting what it does."""

    def __init__(self, decisions: Decisions, stats: ParseStats, zone: Any) -> None:
        self.decisions, self.stats, self.zone = decisions, stats, zone
        self.dedup = MultisetMax()
        self.identities = set(stats.identities)
        self.known_values: set[Any] = set()

    def file(self, path: Path) -> Iterator[Parsed]:
        source, origin = str(path), label(path)
        self.dedup.start_file()
        try:
            records = iter_records(path, progress=self.stats)
            while block := list(islice(records, BLOCK)):
                keyed = [(line, record, None, False) if isinstance(record, BadRecord)
                         else (line, record, *_keyed(record)) for line, record in block]
                self.dedup.prefetch(key for _, _, key, _ in keyed if key is not None)
                for line, record, key, had_token in keyed:
                    self.stats.records_read += 1
                    if key is None:
                        yield Parsed(source, error=RecordError(source, line, str(record)))
                    else:
                        yield from self._record(path, (source, line), record, origin, key, had_token)
                self.dedup.flush()
        except OSError as error:  # unreadable file: reported, the import goes on
            yield Parsed(source, error=RecordError(source, None, f"cannot read file: {error.strerror or error}"))

    def _record(self, path: Path, loc: Loc, record: dict[str, Any], file_label: str, key: bytes,
                had_token: bool) -> list[Parsed]:
        """The items of one record (a list, not a generator: this runs once per line)."""
        occurrence = self.dedup.admit(key)
        if occurrence is None:
            self.stats.duplicates += 1  # a copy: another root, a backup, a session copy (§7.4)
            return []
        if had_token:
            self.stats.bump("auth_token_dropped")
        self._identity(record)
        origin = f"{file_label}:{loc[1]}"
        try:
            builder = ev.Builder(key, occurrence, origin, self.zone)
            events = self._convert(classify(record, had_token), record, builder, path, loc, key)
        except BadRecord as error:
            items = [Parsed(loc[0], error=RecordError(loc[0], loc[1], str(error)))]
        else:
            items = [self._emit(loc[0], event) for event in events]
        anchors = self.decisions.anchors.get(loc)
        return self._around(anchors, items, record, loc[0], origin) if anchors else items

    def _around(self, anchors: list[Anchor], items: list[Parsed], record: dict[str, Any], source: str,
                origin: str) -> list[Parsed]:
        """Session events pinned to this record: starts before its own events, ends after."""
        starts = [self._emit(source, self._session_event(a, record, origin)) for a in anchors if a.what == "start"]
        ends = [self._emit(source, self._session_event(a, record, origin)) for a in anchors if a.what == "end"]
        return starts + items + ends

    def _emit(self, source: str, event: dict[str, Any]) -> Parsed:
        counters, name = self.stats.counters, _COUNTER_NAMES[event["type"]]
        counters[name] = counters.get(name, 0) + 1
        if name in _ATTRIBUTABLE and event.get("session_id") is None:
            counters["unattributed"] = counters.get("unattributed", 0) + 1
        return Parsed(source, event=event)

    def _session_event(self, anchor: Anchor, record: dict[str, Any], origin: str) -> dict[str, Any]:
        if anchor.what == "start":
            event = ev.session_start(anchor.session, iso(anchor.moment), record, anchor.origin, anchor.is_open)
        else:
            event = ev.session_end(anchor.session, iso(anchor.moment), record, anchor.origin)
        event["attributes"]["legacy_origin"] = origin
        return event

    def _convert(self, shape: str, record: dict[str, Any], b: ev.Builder, path: Path, loc: Loc,
                 key: bytes) -> list[dict[str, Any]]:
        if shape in ("tool", "tool_node"):
            return self._tool(shape, record, b)
        simple = _SIMPLE.get(shape)
        if simple is not None:
            if shape.startswith("spec_"):
                self.stats.bump("spec_shape")
            return simple(b, record)
        if shape == "g0_invocation":
            return self._g0_invocation(record, key, b.origin)
        if shape == "g0_performance":
            joined = record.get("invocation_id") in self.decisions.g0_final
            self.stats.bump("g0_performance_joined" if joined else "g0_orphan_performance_skipped")
            self.stats.ignored += not joined  # a joined line went into its invocation's event
            return []
        if shape in ("session_init", "stream", "summary"):
            return self._session_record(shape, record, b, path, loc)
        self.stats.bump("unknown_shape")
        return ev.unknown(b, record, _mtime(path))

    def _tool(self, shape: str, record: dict[str, Any], b: ev.Builder) -> list[dict[str, Any]]:
        name = record.get("tool_name")
        if name == "pre":  # the twin of a `post` record (trap 4)
            self.stats.bump("pre_skipped")
            self.stats.ignored += 1
            return []
        if name == "post":
            self.stats.bump("post_as_unknown_tool")
        stamp = record.get("timestamp")
        python = isinstance(stamp, str) and stamp.endswith("Z")  # G2 wrote UTC `Z`, G3a local offsets
        generation = "G3b/G4" if shape == "tool_node" else "G2" if python else "G3a"
        return ev.hook_tool(b, record, generation)

    def _g0_invocation(self, record: dict[str, Any], key: bytes, origin: str) -> list[dict[str, Any]]:
        invocation = record.get("invocation_id")
        if self.decisions.g0_final.get(invocation) != key:
            self.stats.bump("g0_lines_superseded")  # an earlier line of an invocation logged again later
            self.stats.ignored += 1
            return []
        return ev.g0_invocation(record, self.decisions.g0_performance.get(invocation), origin, self.zone)

    def _session_record(self, shape: str, record: dict[str, Any], b: ev.Builder, path: Path,
                        loc: Loc) -> list[dict[str, Any]]:
        """Session records become events only through their anchors; here they are counted."""
        if shape == "stream" and record.get("event") not in ("session_start", "session_end"):
            if record.get("event") == "command_start":
                self.stats.bump("spec_shape")
                return ev.spec_command_start(b, with_file_session(record, path))
            self.stats.bump("unknown_shape")
            return ev.unknown(b, record, _mtime(path))
        kind = {"session_init": "session_start", "summary": "summary"}.get(shape, record.get("event"))
        parse_time(record.get({"session_init": "start_time", "summary": "end_time"}.get(shape, "timestamp")))
        if not is_uuid(record.get("session_id")):
            self.stats.bump(f"flagged_non_uuid_{kind}")  # trap 1: `default-session` is no session
            self.stats.ignored += 1
        elif shape == "summary" and loc not in self.decisions.accepted_summaries:
            self.stats.bump("flagged_resummaries")  # trap 2: flagged, not applied
            self.stats.ignored += 1
        elif loc not in self.decisions.anchors:
            self.stats.bump("session_records_merged")  # e.g. the stream start repeating the init file
        return []

    def _identity(self, record: dict[str, Any]) -> None:
        for field in ("user", "user_id"):
            value = record.get(field)
            if isinstance(value, str) and value and value not in self.known_values:
                self.known_values.add(value)  # a handful of distinct values over a million records
                if value != "default-user":
                    _add_identity(self.stats, self.identities, value)

    def finish(self) -> None:
        """No profile: the first real e-mail the records name (G3b writes the profile's)."""
        if self.stats.preferred_email is None:
            emails = (i.split(":", 1)[1] for i in self.stats.identities if i.startswith("email:"))
            self.stats.preferred_email = next((e for e in emails if not e.endswith("@localhost")), None)


BLOCK = 512  # records read ahead per dedup look-up (legacy_dedup)


def _keyed(record: dict[str, Any]) -> tuple[bytes, bool]:
    """(dedup key, had an auth_token): secrets are dropped first, so they never reach the key."""
    had_token = drop_secrets(record)
    return canonical_key(record), had_token


_COUNTER_NAMES = {kind: f"events_{kind}" for kind in (
    "tool_execution", "agent_invocation", "command", "code_change", "session_start", "session_end", "raw")}
_ATTRIBUTABLE = frozenset({"events_tool_execution", "events_agent_invocation", "events_command"})
_SIMPLE = {"agent": ev.hook_agent, "g1_tool": ev.g1_tool, "g1_command": ev.g1_command, "g1_agent": ev.g1_agent,
           "hybrid": ev.hybrid, "spec_tool": ev.spec_tool, "spec_agent": ev.spec_agent}


def _add_identity(stats: ParseStats, seen: set[str], value: str) -> None:
    kind = "email" if "@" in value else "profile" if is_uuid(value) else "user"
    identity = f"{kind}:{value.lower() if kind == 'email' else value}"
    if identity not in seen:
        seen.add(identity)
        stats.identities.append(identity)


def _read_profile(path: Path, stats: ParseStats) -> None:
    """§4: the only local link between a machine and an e-mail. Its `token` is never kept."""
    try:
        profile = json.loads(path.read_bytes())
    except (OSError, ValueError):
        stats.bump("profile_unreadable")
        return
    if not isinstance(profile, dict):
        stats.bump("profile_unreadable")
        return
    drop_secrets(profile)
    seen = set(stats.identities)
    user_id, email = profile.get("userId"), profile.get("email")
    if isinstance(user_id, str) and user_id and user_id != "default-user":
        _add_identity(stats, seen, user_id)
    if isinstance(email, str) and "@" in email:
        _add_identity(stats, seen, email)
        if stats.preferred_email is None and not email.lower().endswith("@localhost"):
            stats.preferred_email = email.lower()  # the fallback `$USER@localhost` names no one


def _mtime(path: Path) -> str:
    try:
        return iso(datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
    except OSError:
        return iso(datetime.now(timezone.utc))
