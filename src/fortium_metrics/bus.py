"""Live events: what just happened, for whoever is watching (the WebSocket hub today; alerts and
webhooks later).

One interface, two implementations, chosen by `build_bus(settings)`:
* `InProcessBus`: subscribers in this process are called at once (one process, no Redis);
* `RedisBus` (bus_redis.py, when FORTIUM_REDIS_URL is set): messages go through a Redis pub/sub
  channel, so every process of a deployment hears what any of them published. While Redis is
  unreachable it degrades to in-process delivery with a warning (as the rate limiter fails open).

`publish` never blocks and never raises: a live message is a hint to refetch, and losing one must
never slow or fail the work that produced it (ingestion publishes after its commit).
Messages carry counts, kinds and ids, never anyone's data: what a reader may see is still decided
by the analytics service when the client refetches.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from .config import Settings

log = logging.getLogger(__name__)

METRIC_INGESTED, DASHBOARD_UPDATE, ALERT_TRIGGERED = "metric_ingested", "dashboard_update", "alert_triggered"
ORGANIZATION, TEAMS = "organization", "teams"  # audiences: everyone in the organisation, or some teams


@dataclass(frozen=True)
class LiveMessage:
    type: str
    organization_id: uuid.UUID
    team_ids: tuple[uuid.UUID, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    # "organization": every connection of the organisation; "teams": members of team_ids (and the
    # organisation's managers and admins, who read every team).
    audience: str = ORGANIZATION
    published_at: float = field(default_factory=time.time)

    @cached_property
    def text(self) -> str:
        """The JSON sent to Redis and to every client, serialised once whatever the fan-out."""
        return orjson.dumps({
            "type": self.type, "organization_id": self.organization_id, "team_ids": self.team_ids,
            "audience": self.audience, "data": self.data, "published_at": self.published_at}).decode()

    @classmethod
    def from_text(cls, text: str | bytes) -> "LiveMessage":
        raw = orjson.loads(text)
        message = cls(raw["type"], uuid.UUID(raw["organization_id"]), tuple(uuid.UUID(t) for t in raw["team_ids"]),
                      raw["data"], raw["audience"], raw["published_at"])
        message.__dict__["text"] = text if isinstance(text, str) else text.decode()  # already serialised
        return message


def metric_ingested(organization_id: uuid.UUID, counts: dict[str, int], team_ids: Iterable[uuid.UUID]) -> LiveMessage:
    """After an ingestion transaction committed: what it stored, by kind, and which teams it touched."""
    return LiveMessage(METRIC_INGESTED, organization_id, tuple(sorted(set(team_ids), key=str)),
                       {"counts": dict(sorted(counts.items())), "events": sum(counts.values())})


def dashboard_update(organization_id: uuid.UUID, team_ids: Iterable[uuid.UUID], reason: str = METRIC_INGESTED) -> LiveMessage:
    """Tells dashboards to refetch (the hub sends at most one per organisation per second)."""
    return LiveMessage(DASHBOARD_UPDATE, organization_id, tuple(sorted(set(team_ids), key=str)), {"reason": reason})


def alert_triggered(organization_id: uuid.UUID, alert: dict[str, Any], team_ids: Iterable[uuid.UUID] = ()) -> LiveMessage:
    """An alert fired: for the teams it is about (and managers, admins), else the whole organisation."""
    teams = tuple(sorted(set(team_ids), key=str))
    return LiveMessage(ALERT_TRIGGERED, organization_id, teams, {"alert": alert}, TEAMS if teams else ORGANIZATION)


Handler = Callable[[LiveMessage], None]


class EventBus:
    """Subscribers are plain functions called in the event loop; they must not block."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def publish(self, message: LiveMessage) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Connect what needs connecting (the app's lifespan calls it; publishing works before)."""

    async def close(self) -> None:
        """Deliver what is queued, then let go of connections."""

    def _deliver(self, message: LiveMessage) -> None:
        for handler in self._handlers:
            try:
                handler(message)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("live event subscriber failed on %s", message.type)


class InProcessBus(EventBus):
    def publish(self, message: LiveMessage) -> None:
        self._deliver(message)


def publish_alert(bus: EventBus, organization_id: uuid.UUID, alert: dict[str, Any],
                  team_ids: Iterable[uuid.UUID] = ()) -> None:
    """For the alerts to come: one call once an alert has fired (and its state is committed)."""
    bus.publish(alert_triggered(organization_id, alert, team_ids))


def build_bus(settings: Settings) -> EventBus:
    if not settings.redis_url:
        return InProcessBus()
    from .bus_redis import RedisBus

    return RedisBus(settings.redis_url)
