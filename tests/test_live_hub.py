"""The hub's rules without sockets: rooms and audiences, the refresh throttle, and the one
announcement per committed ingestion transaction (both databases)."""
from __future__ import annotations

import uuid

import pytest

from fortium_metrics import teams
from fortium_metrics.bus import InProcessBus, LiveMessage, alert_triggered, metric_ingested
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal
from fortium_metrics.web.live_hub import LiveHub, RefreshThrottle, TooManyConnections, rooms_of

pytestmark = pytest.mark.anyio
ORG_A, ORG_B = uuid.uuid4(), uuid.uuid4()
PLATFORM, PAYMENTS = uuid.uuid4(), uuid.uuid4()


def person(org: uuid.UUID, role: str = "developer") -> Principal:
    return Principal(org, uuid.uuid4(), role, frozenset({"read"}), "user", role)


class World:
    """A hub on an in-process bus with one connection per person; `heard[name]` is what reached them."""

    def __init__(self, max_per_user: int = 10, queue_size: int = 100) -> None:
        self.bus = InProcessBus()
        self.hub = LiveHub(self.bus, max_per_user, queue_size)
        self.connections = {}

    def connect(self, name: str, principal: Principal, team_ids=(), every_team=False):
        self.connections[name] = self.hub.join(principal, rooms_of(principal, set(team_ids), every_team),
                                               lambda text: None)
        return self.connections[name]

    def heard(self, name: str) -> list[LiveMessage]:
        queue = self.connections[name].queue
        return [LiveMessage.from_text(queue.get_nowait()) for _ in range(queue.qsize())]


async def test_a_team_alert_reaches_its_members_and_the_managers_not_other_developers():
    world = World()
    world.connect("member", person(ORG_A), [PLATFORM])
    world.connect("other team", person(ORG_A), [PAYMENTS])
    world.connect("manager", person(ORG_A, "manager"), every_team=True)
    world.connect("other org manager", person(ORG_B, "manager"), every_team=True)
    world.bus.publish(alert_triggered(ORG_A, {"rule": "cost"}, [PLATFORM]))
    assert [m.data["alert"] for m in world.heard("member")] == [{"rule": "cost"}]
    assert [m.data["alert"] for m in world.heard("manager")] == [{"rule": "cost"}]
    assert world.heard("other team") == [] and world.heard("other org manager") == []


async def test_a_team_id_of_another_organisation_reaches_nobody_outside_the_message_organisation():
    world = World()
    world.connect("charlie", person(ORG_B), [PAYMENTS])
    world.bus.publish(alert_triggered(ORG_A, {"rule": "forged"}, [PAYMENTS]))  # PAYMENTS is not org A's
    assert world.heard("charlie") == []


async def test_organisation_messages_reach_every_connection_of_that_organisation_only():
    world = World()
    world.connect("alice", person(ORG_A, "admin"), every_team=True)
    world.connect("bob", person(ORG_A), [PLATFORM])
    world.connect("charlie", person(ORG_B))
    world.hub.route(metric_ingested(ORG_A, {"task": 2}, [PLATFORM]))
    assert [m.data["counts"] for m in world.heard("alice")] == [{"task": 2}]
    assert [m.data["counts"] for m in world.heard("bob")] == [{"task": 2}]
    assert world.heard("charlie") == []


async def test_a_full_queue_drops_only_that_connection():
    world = World(queue_size=2)
    slow, fast = world.connect("slow", person(ORG_A)), world.connect("fast", person(ORG_A))
    for n in range(3):
        world.hub.route(alert_triggered(ORG_A, {"n": n}))
        world.heard("fast")
    assert slow.closing.is_set() and slow.close_code == 4008
    assert not fast.closing.is_set()


async def test_the_cap_is_per_person_and_a_leaving_connection_frees_its_place():
    world = World(max_per_user=1)
    alice = person(ORG_A, "admin")
    first = world.connect("first", alice)
    with pytest.raises(TooManyConnections, match="FORTIUM_WS_MAX_PER_USER"):
        world.connect("second", alice)
    world.connect("bob", person(ORG_A))
    world.hub.leave(first)
    world.connect("again", alice)
    assert world.hub.connections == 2


class Clock:
    def __init__(self) -> None:
        self.now, self.timers = 100.0, []

    def later(self, delay, callback) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, callback in due:
            callback()


def test_refreshes_are_at_most_one_per_organisation_per_second_and_the_last_is_never_lost():
    clock, sent = Clock(), []
    throttle = RefreshThrottle(lambda org, teams: sent.append((clock.now, org, teams)), 1.0, lambda: clock.now,
                               clock.later)
    throttle.note(ORG_A, {PLATFORM})  # at once
    throttle.note(ORG_B, set())  # another organisation has its own budget
    clock.advance(0.2)
    throttle.note(ORG_A, {PAYMENTS})
    clock.advance(0.3)
    throttle.note(ORG_A, set())
    assert sent == [(100.0, ORG_A, {PLATFORM}), (100.0, ORG_B, set())]
    clock.advance(0.5)  # one second after the first: the folded one
    assert sent[2:] == [(101.0, ORG_A, {PAYMENTS})]
    clock.advance(0.5)
    throttle.note(ORG_A, set())  # within a second of the last: waits for its turn
    assert len(sent) == 3
    clock.advance(0.5)
    assert sent[3:] == [(102.0, ORG_A, set())]
    clock.advance(5)
    throttle.note(ORG_A, {PLATFORM})  # quiet for long: at once again
    assert sent[4:] == [(107.0, ORG_A, {PLATFORM})]


async def test_the_ingestor_announces_each_commit_once_with_its_counts_and_teams(store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        team = await teams.create_team(uow, "Platform")
    heard = []
    ingestor = Ingestor(store, on_commit=lambda org, counts, team_ids: heard.append((org, counts, team_ids)))
    events = [{"type": "session_start", "session_id": "s-1", "team": team.slug},
              {"type": "tool_execution", "tool_name": "Read", "session_id": "s-1", "team": team.slug, "event_id": "r"},
              {"type": "tool_execution", "tool_name": "Bash", "session_id": "s-1", "event_id": "b"}]
    try:
        assert (await record_events(ingestor, people.alice, events, "test")).accepted == 3
        assert (await record_events(ingestor, people.alice, events, "test")).duplicates == 3
    finally:
        await ingestor.close()
    assert heard == [(people.org_a, {"session_start": 1, "tool_execution": 2}, {team.id})]
