"""The live-update hub of one process: rooms, fan-out, the refresh throttle, slow clients.

Rooms: `org:<id>` holds every connection of an organisation; `team:<id>` the members of a team;
`staff:<org id>` the managers and admins, who hear every team's messages. A message names its
organisation, so it can only ever reach that organisation's rooms.

Fan-out never waits for a client: each connection has a bounded queue of serialised messages that
its own task writes to the socket. A client that stops reading fills its queue and is dropped
(close code 4008); nobody else is slowed. `dashboard_update` is derived here from
`metric_ingested`, at most one per organisation per THROTTLE_SECONDS: the first at once, later
ones folded into one at the end of the interval, so the last ingest is never left unannounced.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..bus import METRIC_INGESTED, TEAMS, EventBus, LiveMessage, dashboard_update
from ..principal import Principal

log = logging.getLogger(__name__)
THROTTLE_SECONDS = 1.0
TOO_SLOW = (4008, "too slow: this client did not read its messages; reconnect")
TOO_MANY = 4429


class TooManyConnections(Exception):
    pass


class LiveConnection:
    """One client: its rooms and its outgoing queue (drained by `pump`, run by web/live.py)."""

    def __init__(self, principal: Principal, rooms: frozenset[str], queue_size: int,
                 send: Callable[[str], object]) -> None:
        self.principal, self.rooms = principal, rooms
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.closing = asyncio.Event()
        self.close_code, self.close_reason = 1000, ""
        self._send = send

    @property
    def owner(self) -> tuple[uuid.UUID | None, str]:
        return self.principal.organization_id, str(self.principal.user_id or self.principal.label)

    def offer(self, text: str) -> None:
        if self.closing.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.drop(*TOO_SLOW)

    def drop(self, code: int, reason: str) -> None:
        if not self.closing.is_set():
            self.close_code, self.close_reason = code, reason
            self.closing.set()

    async def pump(self) -> None:
        while True:
            await self._send(await self.queue.get())


def rooms_of(principal: Principal, team_ids: set[uuid.UUID], every_team: bool) -> frozenset[str]:
    org = principal.organization_id
    return frozenset({f"org:{org}", *(f"team:{team}" for team in team_ids), *([f"staff:{org}"] if every_team else [])})


@dataclass
class _Pending:
    last: float
    teams: set[uuid.UUID] = field(default_factory=set)
    scheduled: bool = False


class RefreshThrottle:
    """At most one `emit(org, teams)` per organisation per interval (leading and trailing edge).
    The clock and the scheduler are injectable so the behaviour is tested without waiting."""

    def __init__(self, emit: Callable[[uuid.UUID, set[uuid.UUID]], None], interval: float = THROTTLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 later: Callable[[float, Callable[[], None]], object] | None = None) -> None:
        self.emit, self.interval, self.clock = emit, interval, clock
        self.later = later or (lambda delay, callback: asyncio.get_running_loop().call_later(delay, callback))
        self._orgs: dict[uuid.UUID, _Pending] = {}

    def note(self, org: uuid.UUID, teams: set[uuid.UUID]) -> None:
        now = self.clock()
        state = self._orgs.get(org)
        if state is None or (not state.scheduled and now - state.last >= self.interval):
            self._orgs[org] = _Pending(now)
            self.emit(org, set(teams))
            return
        state.teams |= teams
        if not state.scheduled:
            state.scheduled = True
            self.later(state.last + self.interval - now, lambda: self._flush(org))

    def _flush(self, org: uuid.UUID) -> None:
        state = self._orgs.pop(org, None)
        if state is not None:
            self._orgs[org] = _Pending(self.clock())
            self.emit(org, state.teams)
        self._forget_idle()

    def _forget_idle(self) -> None:
        now = self.clock()
        for org in [o for o, s in self._orgs.items() if not s.scheduled and now - s.last >= self.interval]:
            del self._orgs[org]


class LiveHub:
    def __init__(self, bus: EventBus, max_per_user: int, queue_size: int) -> None:
        self.bus, self.max_per_user, self.queue_size = bus, max_per_user, queue_size
        self.rooms: dict[str, set[LiveConnection]] = defaultdict(set)
        self.per_owner: dict[tuple, int] = defaultdict(int)
        self.throttle = RefreshThrottle(lambda org, teams: self.route(dashboard_update(org, teams)))
        bus.subscribe(self.on_message)

    @property
    def connections(self) -> int:
        return sum(self.per_owner.values())

    def join(self, principal: Principal, rooms: frozenset[str], send: Callable[[str], object]) -> LiveConnection:
        connection = LiveConnection(principal, rooms, self.queue_size, send)
        if self.per_owner[connection.owner] >= self.max_per_user:
            raise TooManyConnections(f"too many live connections for this user: at most {self.max_per_user} "
                                     "(FORTIUM_WS_MAX_PER_USER); close another tab")
        self.per_owner[connection.owner] += 1
        for room in rooms:
            self.rooms[room].add(connection)
        return connection

    def leave(self, connection: LiveConnection) -> None:
        for room in connection.rooms:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(connection)
                if not members:
                    del self.rooms[room]
        self.per_owner[connection.owner] -= 1
        if self.per_owner[connection.owner] <= 0:
            del self.per_owner[connection.owner]

    def on_message(self, message: LiveMessage) -> None:
        self.route(message)
        if message.type == METRIC_INGESTED:
            self.throttle.note(message.organization_id, set(message.team_ids))

    def route(self, message: LiveMessage) -> None:
        org = message.organization_id
        if message.audience == TEAMS:
            names = [f"staff:{org}", *(f"team:{team}" for team in message.team_ids)]
            targets = set().union(*(self.rooms.get(name, ()) for name in names))
            # A team id is not trusted to belong to the organisation: every target must.
            targets = {c for c in targets if c.principal.organization_id == org}
        else:
            targets = self.rooms.get(f"org:{org}", ())
        text = message.text
        for connection in list(targets):
            connection.offer(text)
