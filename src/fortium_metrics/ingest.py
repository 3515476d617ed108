"""Recording events: the one code path behind MCP tools, REST, hooks, OTLP and importers.

`record_events(ingestor, principal, items, source)` validates each item (errors name the index,
the field and the reason), hands the valid ones to the `Ingestor`, and returns once they are
committed: an acknowledgement is durable. Re-sent events count once (dedup key per event).
`record_valid_events` is the same for a batch its caller already validated whole (REST batches,
validated straight from the request bytes).

The `Ingestor` does group commit: callers queue their events; writer tasks drain whatever is
queued and write it in one transaction per organisation (bulk insert, COPY on PostgreSQL). While
one transaction commits, the next requests accumulate, so throughput grows with concurrency
without any added wait.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg.errors import DeadlockDetected, SerializationFailure
from pydantic.json_schema import SkipJsonSchema
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from . import telemetry
from .errors import Forbidden, Invalid
from .events import (COLUMN_MAP, EVENT_MODELS, Event, EventBase, SessionEnd, SessionStart, dedup_key, event_adapter,
                     without_nul)
from .dimensions import DIMENSION_COLUMNS, dimensions
from .principal import Principal
from .resolve import Resolver, TeamsOfPeople
from .store.event_writer import DEDUP_KEY, ROW_COLUMNS, json_text, write_events
from .store.models import AgentSession, EventKey
from .store.uow import Store, UnitOfWork

MAX_BATCH = 5000
log = logging.getLogger(__name__)


class ItemError(BaseModel):
    index: int
    field: str | None = None
    message: str


class IngestResult(BaseModel):
    accepted: int = Field(0, description="Stored now.")
    duplicates: int = Field(0, description="Already stored before (same dedup key); counted once.")
    rejected: int = Field(0, description="Invalid; see errors.")
    errors: list[ItemError] = Field(default_factory=list)
    # In-process callers (the import runner) attribute counts per item; never serialised.
    duplicate_indexes: SkipJsonSchema[list[int]] = Field(default_factory=list, exclude=True)


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"this credential lacks the {scope!r} scope")


# Validating a whole batch in one call into pydantic-core is about twice as fast as one call per
# item; only a batch with an invalid item takes the per-item path, which names every error.
_batch_adapter: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def parse_items(items: list[Any]) -> tuple[list[tuple[int, EventBase]], list[ItemError]]:
    items = [without_nul(item) for item in items]
    try:
        return list(enumerate(_batch_adapter.validate_python(items))), []
    except ValidationError:
        pass
    valid, errors = [], []
    for index, item in enumerate(items):
        try:
            valid.append((index, event_adapter.validate_python(item)))
        except ValidationError as error:
            errors.extend(_item_errors(index, item, error))
    return valid, errors


def _item_errors(index: int, item: Any, error: ValidationError) -> list[ItemError]:
    found = []
    tag = item.get("type") if isinstance(item, dict) else None
    for detail in error.errors():
        loc = [str(p) for p in detail["loc"]]
        if loc and loc[0] == tag:  # the discriminator value pydantic puts first
            loc = loc[1:]
        name = ".".join(loc) or ("type" if detail["type"].startswith("union_tag") else None)
        message = detail["msg"]
        if detail["type"] == "union_tag_invalid":
            message = f"unknown event type {str(tag)[:60]!r}"
        found.append(ItemError(index=index, field=name, message=f"{name}: {message}" if name else message))
    return found


async def record_events(ingestor: "Ingestor", principal: Principal, items: list[Any], source: str,
                        *, strict_teams: bool = True) -> IngestResult:
    """`strict_teams=False` for sources whose team is a free-form label (OTLP resource attributes,
    hooks): an unknown team is then kept as a label instead of rejecting the event."""
    _check_call(principal, items)
    valid, errors = parse_items(items)
    return await _record(ingestor, principal, valid, errors, source, strict_teams)


async def record_valid_events(ingestor: "Ingestor", principal: Principal, events: list[EventBase], source: str,
                              *, strict_teams: bool = True) -> IngestResult:
    """record_events for a batch already validated whole (web/api.py's parse_valid_batch)."""
    _check_call(principal, events)
    return await _record(ingestor, principal, list(enumerate(events)), [], source, strict_teams)


def _check_call(principal: Principal, items: list) -> None:
    require_scope(principal, "ingest")
    if len(items) > MAX_BATCH:
        raise Invalid(f"events: at most {MAX_BATCH} events per call (got {len(items)})", field="events")


async def _record(ingestor: "Ingestor", principal: Principal, valid: list[tuple[int, EventBase]],
                  errors: list[ItemError], source: str, strict_teams: bool) -> IngestResult:
    started = time.perf_counter()
    result = await ingestor.submit(principal, valid, source, strict_teams) if valid else IngestResult()
    result.errors = sorted(errors + result.errors, key=lambda e: e.index)
    result.rejected = len({e.index for e in result.errors})
    telemetry.observe_ingest(source, result, time.perf_counter() - started if valid else None)
    return result


@dataclass
class _Pending:
    principal: Principal
    events: list[tuple[int, EventBase]]
    source: str
    strict_teams: bool
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Ingestor:
    """Group commit. One per process (built by the app/CLI factories); `close()` drains it.

    `writers` transactions run at once on PostgreSQL (SQLite has one write lock: one writer).
    Each writer takes whatever is queued when it becomes free, so while one transaction waits for
    the database the next is already being built and written, and PostgreSQL works on both.

    `on_commit(organization_id, counts by kind, team ids)` is called once per committed
    transaction that stored something new (the live updates: context.py publishes it), never per
    event and never before the commit."""

    def __init__(self, store: Store, max_rows_per_transaction: int = 20_000, writers: int = 2,
                 on_commit: "CommitListener | None" = None) -> None:
        self.store = store
        self.on_commit = on_commit
        self.max_rows = max_rows_per_transaction
        self.writers = writers if store.dialect == "postgresql" else 1
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.teams_of_people = TeamsOfPeople()
        self._tasks: list[asyncio.Task] = []

    async def submit(self, principal: Principal, events: list[tuple[int, EventBase]], source: str,
                     strict_teams: bool = True) -> IngestResult:
        self._tasks = [task for task in self._tasks if not task.done()]  # started lazily: needs the loop
        while len(self._tasks) < self.writers:
            self._tasks.append(asyncio.create_task(self._run(), name="fortium-ingest-writer"))
        pending = _Pending(principal, events, source, strict_teams)
        self._queue.put_nowait(pending)
        return await pending.future

    @property
    def queued(self) -> int:
        """Requests waiting for a writer (the group-commit queue depth)."""
        return self._queue.qsize()

    async def close(self) -> None:
        if self._tasks:
            await self._queue.join()
            for task in self._tasks:
                task.cancel()
            self._tasks = []

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0].events)
            while not self._queue.empty() and rows < self.max_rows:
                batch.append(self._queue.get_nowait())
                rows += len(batch[-1].events)
            by_org: dict[uuid.UUID, list[_Pending]] = defaultdict(list)
            for pending in batch:
                by_org[pending.principal.organization_id].append(pending)
            for org, group in by_org.items():
                await self._write_group(org, group)
            for _ in batch:
                self._queue.task_done()

    async def _write_group(self, org: uuid.UUID, group: list[_Pending]) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self.store.unit_of_work(Principal(org, kind="ingest", label="ingest")) as uow:
                    results, stored = await _write(uow, group, self.teams_of_people)
                telemetry.GROUP_COMMIT_EVENTS.observe(sum(len(pending.events) for pending in group))
                break
            except Exception as error:  # the transaction rolled back: nothing of this group is stored
                cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
                if attempt < _ATTEMPTS and isinstance(cause, _TRANSIENT):
                    # Two writers deadlocked (new users or projects named in opposite orders):
                    # PostgreSQL aborted this one and the other went on; running it again is safe.
                    log.warning("ingestion transaction aborted by PostgreSQL (%s); retrying", type(cause).__name__)
                    continue
                if len(group) > 1:
                    # Group commit must not make one request's bad data every request's error: the
                    # requests are written again one per transaction, and only the culprit fails.
                    log.warning("ingestion transaction of %d requests failed (%s); writing them one by one",
                                len(group), type(cause).__name__)
                    for pending in group:
                        await self._write_group(org, [pending])
                    return
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                return
        for pending, result in zip(group, results):
            if not pending.future.done():
                pending.future.set_result(result)
        if stored.kinds and self.on_commit is not None:
            try:
                self.on_commit(org, dict(stored.kinds), stored.teams)
            except Exception:  # a live update is a hint: it never fails what was stored
                log.exception("ingestion commit listener failed")


_ATTEMPTS = 3
_TRANSIENT = (DeadlockDetected, SerializationFailure)  # aborted only because of another transaction
CommitListener = Callable[[uuid.UUID, dict[str, int], set[uuid.UUID]], None]


@dataclass
class _Stored:
    """What a transaction newly stored: events by kind (sessions by event type), teams touched."""

    kinds: Counter = field(default_factory=Counter)
    teams: set[uuid.UUID] = field(default_factory=set)


async def _write(uow: UnitOfWork, group: list[_Pending],
                 teams_of_people: TeamsOfPeople) -> tuple[list[IngestResult], _Stored]:
    # Counts are plain ints until the end: IngestResult is a pydantic model, and assigning to
    # its fields once per event costs more than building the row.
    results = [IngestResult() for _ in group]
    stored = _Stored()
    accepted, duplicates = [0] * len(group), [0] * len(group)
    rows, owners, sessions = await _rows(uow, group, results, accepted, duplicates, teams_of_people)
    fresh = await write_events(uow, rows)
    # Sessions last: on SQLite the first write takes the database's write lock, so writes come
    # after all the Python work of the batch (other processes wait meanwhile).
    # In session-id order, like the keys: concurrent writers then lock shared sessions in one order.
    for position, index, event, ids, source in sorted(sessions, key=lambda item: item[2].session_id):
        if await _record_session(uow, event, ids, source):
            accepted[position] += 1
            stored.kinds[event.type] += 1
            if ids["team_id"] is not None:
                stored.teams.add(ids["team_id"])
        else:
            duplicates[position] += 1
            results[position].duplicate_indexes.append(index)
    for row, (position, index) in zip(rows, owners):
        if row[DEDUP_KEY] in fresh:
            accepted[position] += 1
            stored.kinds[row[_KIND]] += 1
            if row[_TEAM] is not None:
                stored.teams.add(row[_TEAM])
        else:
            duplicates[position] += 1
            results[position].duplicate_indexes.append(index)
    for result, new, repeated in zip(results, accepted, duplicates):
        result.accepted, result.duplicates = new, repeated
    return results, stored


async def _rows(uow: UnitOfWork, group: list[_Pending], results: list[IngestResult], accepted: list[int],
                duplicates: list[int], teams_of_people: TeamsOfPeople) -> tuple[list[list], list[tuple[int, int]], list[tuple]]:
    """The metric rows of a group (see ROW_COLUMNS), the request and item each came from, and the
    session starts/ends (written after the rows, see _write)."""
    resolver = Resolver(uow, teams_of_people)
    session_owners = await _session_owners(uow, group)
    rows: list[list] = []
    owners: list[tuple[int, int]] = []  # (pending request, item index) of each row
    sessions: list[tuple] = []  # session starts/ends, written after the rows (see _write)
    seen: set[str] = set()
    for position, pending in enumerate(group):
        resolved: dict[tuple, dict] = {}  # a batch names few (user, team, project): resolve each once
        for index, event in pending.events:
            refs = (event.user, event.team, event.project)
            ids = resolved.get(refs)
            if ids is None:
                try:
                    ids = resolved[refs] = await _resolve(resolver, pending.principal, event, pending.strict_teams)
                except Invalid as error:
                    results[position].errors.append(ItemError(index=index, field=error.field, message=error.message))
                    continue
            if event.session_id is not None and not _may_write_session(session_owners, event, ids["user_id"]):
                results[position].errors.append(ItemError(index=index, field="session_id", message=(
                    f"session_id: session {event.session_id!r} is another person's; events of a session are "
                    "written by its owner (or for them, with an organisation key naming them)")))
                continue
            try:
                if isinstance(event, (SessionStart, SessionEnd)):
                    # Attributes as the rows store them (json_text): non-finite numbers become null.
                    event = event.model_copy(update={"attributes": orjson.loads(json_text(event.attributes))})
                    sessions.append((position, index, event, ids, pending.source))
                    continue
                row = _row(event, ids, pending.source)
            except (TypeError, ValueError) as error:  # attributes orjson or pydantic cannot write as JSON:
                # integers beyond 64 bits, lone surrogates, nesting deeper than they allow
                results[position].errors.append(
                    ItemError(index=index, field="attributes", message=f"attributes: cannot be stored as JSON ({error})"))
                continue
            if row[DEDUP_KEY] in seen:  # the same event twice in this transaction
                duplicates[position] += 1
                results[position].duplicate_indexes.append(index)
                continue
            seen.add(row[DEDUP_KEY])
            rows.append(row)
            owners.append((position, index))
    return rows, owners, sessions


async def _session_owners(uow: UnitOfWork, group: list[_Pending]) -> dict[str, uuid.UUID | None]:
    """The people the group's sessions already belong to (the first to start or end one)."""
    named = sorted({event.session_id for pending in group for _, event in pending.events if event.session_id})
    owners: dict[str, uuid.UUID | None] = {}
    for start in range(0, len(named), 1000):
        found = await uow.session.execute(select(AgentSession.id, AgentSession.user_id)
                                          .where(AgentSession.id.in_(named[start:start + 1000])))
        owners.update((session_id, user_id) for session_id, user_id in found)
    return owners


def _may_write_session(owners: dict[str, uuid.UUID | None], event: EventBase, user_id: uuid.UUID | None) -> bool:
    """A session's events are its owner's: an event for someone else carrying its id would move
    its start and end, merge attributes and add counts to another person's session (issue 12).
    A start or end of a session nobody has yet makes its writer the owner, also for the rest of
    this transaction's events. Events naming no person (an organisation key's) are not checked."""
    if isinstance(event, (SessionStart, SessionEnd)):
        owners.setdefault(event.session_id, user_id)
    owner = owners.get(event.session_id)
    return owner is None or user_id is None or owner == user_id


async def _resolve(resolver: Resolver, principal: Principal, event: EventBase,
                   strict_teams: bool = True) -> dict[str, uuid.UUID | None]:
    may_name_others = principal.user_id is None or "admin" in principal.scopes
    user_id = await resolver.user(event.user, principal.user_id, may_name_others)
    team_id = await resolver.team(event.team, strict_teams) or await resolver.team_of(user_id)
    project_id = await resolver.project(event.project, team_id)
    return {"user_id": user_id, "team_id": team_id, "project_id": project_id}


async def _claim_key(uow: UnitOfWork, event: SessionStart | SessionEnd) -> bool:
    """Claim the event's dedup key, as every other event's (store/event_writer.py): False if some
    path (a redelivered hook, a retried batch, an import) already brought this very event."""
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    claimed = await uow.session.execute(
        insert(EventKey).on_conflict_do_nothing().returning(EventKey.dedup_key),
        {"dedup_key": dedup_key(event), "occurred_at": event.timestamp})
    return claimed.first() is not None


async def _record_session(uow: UnitOfWork, event: SessionStart | SessionEnd, ids: dict, source: str) -> bool:
    """An event counts once (its dedup key); beyond that, sessions are idempotent by id: a later
    start, or an end that is not later, changes nothing."""
    if not await _claim_key(uow, event):
        return False
    session = await uow.session.get(AgentSession, (uow.principal.organization_id, event.session_id))
    if isinstance(event, SessionStart):
        if session is not None:
            if session.started_at <= event.timestamp:
                return False
            session.started_at = event.timestamp  # an end arrived first; the real start is earlier
            return True
        dialect_insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(AgentSession).on_conflict_do_nothing()
        await uow.session.execute(statement, [{
            "id": event.session_id, "started_at": event.timestamp, "source": source,
            "attributes": event.attributes, **ids}])
        return True
    if session is None:
        uow.session.add(AgentSession(id=event.session_id, started_at=event.timestamp, ended_at=event.timestamp,
                                     source=source, attributes=event.attributes, **ids))
        return True
    if session.ended_at is not None and session.ended_at >= event.timestamp:
        return False  # the same end again, or an earlier one: nothing new
    session.ended_at = event.timestamp  # first end, or a later one (a grown transcript re-imported)
    session.attributes = {**(session.attributes or {}), **event.attributes}
    return True


_COMMON = {"type", "event_id", "timestamp", "session_id", "user", "team", "project", "attributes"}
_AT = {column: position for position, column in enumerate(ROW_COLUMNS)}
_BLANK = [None] * len(ROW_COLUMNS)
_TIME, _KIND, _NAME, _USER, _TEAM, _PROJECT, _SESSION, _SOURCE, _SUCCESS, _CACHE_WRITE, _MODEL, _ATTRIBUTES = (
    _AT[c] for c in ("occurred_at", "kind", "name", "user_id", "team_id", "project_id", "session_id", "source",
                     "success", "cache_write_tokens", "model", "attributes"))
_DIMENSIONS = slice(_AT[DIMENSION_COLUMNS[0]], _AT[DIMENSION_COLUMNS[-1]] + 1)
assert ROW_COLUMNS[_DIMENSIONS] == list(DIMENSION_COLUMNS), "dimension columns must be adjacent, in order"
# Per type, precomputed once (_row runs once per event): the row's kind, the field naming it, the
# (row position, field) of its own columns, and the fields kept in `attributes` instead.
_PLANS = {kind: (stored_kind, name_field, tuple((_AT[column], f) for f, column in columns.items()),
                 tuple(f for f in EVENT_MODELS[kind].model_fields if f not in _COMMON | set(columns) | {name_field}))
          for kind, (stored_kind, name_field, columns) in COLUMN_MAP.items()}


def _row(event: EventBase, ids: dict, source: str) -> list:
    """The metric_events row of an event, as the writers take it (ROW_COLUMNS order)."""
    kind, name_field, columns, extra_fields = _PLANS[event.type]
    data = event.__dict__
    row = _BLANK.copy()
    row[_TIME], row[_KIND], row[_SESSION], row[_SOURCE] = event.timestamp, kind, event.session_id, source
    row[_USER], row[_TEAM], row[_PROJECT] = ids["user_id"], ids["team_id"], ids["project_id"]
    row[DEDUP_KEY] = dedup_key(event)
    if name_field:
        row[_NAME] = data[name_field]
    for position, field_name in columns:
        row[position] = data[field_name]
    if event.type == "task":
        row[_SUCCESS] = data["status"] == "completed"
    elif event.type == "api_request":
        row[_CACHE_WRITE] = (data["cache_write_5m_tokens"] + data["cache_write_1h_tokens"]
                             + data["cache_write_unsplit_tokens"])
    elif event.type in ("api_error", "tool_decision"):
        row[_SUCCESS] = event.type == "tool_decision" and data["decision"] == "accept"
    attributes = event.attributes
    if row[_MODEL] is None and isinstance(attributes.get("model"), str):  # lines of code, decisions: per model too
        row[_MODEL] = attributes["model"][:100] or None
    row[_DIMENSIONS] = dimensions(kind, row[_NAME], data, attributes)
    extras = {k: data[k] for k in extra_fields if data[k] is not None} if extra_fields else None
    row[_ATTRIBUTES] = json_text({**attributes, **extras} if extras else attributes)
    return row
