"""Sessions to read (tests/test_sessions.py, tests/test_pages_data.py): a small organisation with a
team, a lead, members and one outsider, and a session of each, through the normal ingestion."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fortium_metrics import teams, users
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal

NOW = datetime.now(timezone.utc).replace(microsecond=0)
BOB_SESSION = "bob-session-1"
DANA_SESSION = "dana-session-1"
CHARLIE_SESSION = "charlie-only-session"  # in org B only


def at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def work(session: str, who: str, start: int, project: str = "web") -> list[dict]:
    """A session of `who` that began `start` minutes ago: two prompts, two requests (one failed
    first), three tools (one failed), a subagent and a compaction; 30 minutes long."""
    common = {"session_id": session, "user": who, "project": project}
    return [{**common, **event} for event in (
        {"type": "session_start", "timestamp": at(start), "event_id": f"{session}-s"},
        {"type": "prompt", "prompt_length": 40, "timestamp": at(start - 1), "event_id": f"{session}-p1"},
        {"type": "api_error", "model": "claude-sonnet-4-5", "status_code": 529, "error": "Overloaded",
         "timestamp": at(start - 2), "event_id": f"{session}-e"},
        {"type": "api_request", "model": "claude-sonnet-4-5", "input_tokens": 100, "output_tokens": 50,
         "cost_usd": 0.25, "duration_ms": 1200, "request_id": f"{session}-r1", "timestamp": at(start - 3)},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 40, "success": True, "timestamp": at(start - 4),
         "event_id": f"{session}-t1"},
        {"type": "tool_execution", "tool_name": "Bash", "duration_ms": 900, "success": False, "error": "ShellError",
         "timestamp": at(start - 5), "event_id": f"{session}-t2"},
        {"type": "agent_invocation", "agent_name": "Explore", "duration_ms": 5000, "success": True,
         "timestamp": at(start - 6), "event_id": f"{session}-a"},
        {"type": "raw", "name": "compaction", "value": 1, "timestamp": at(start - 7), "event_id": f"{session}-c"},
        {"type": "prompt", "prompt_length": 12, "timestamp": at(start - 8), "event_id": f"{session}-p2"},
        {"type": "api_request", "model": "claude-opus-4-1", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.75,
         "request_id": f"{session}-r2", "timestamp": at(start - 9)},
        {"type": "tool_execution", "tool_name": "Edit", "duration_ms": 30, "success": True, "timestamp": at(start - 10),
         "event_id": f"{session}-t3"},
        {"type": "session_end", "timestamp": at(start - 30), "event_id": f"{session}-z"},
    )]


async def team_world(store, people) -> dict[str, Principal]:
    """Org A: Platform = Bob (lead) and Dana (member); Erin outside it. Bob, Dana and Erin each
    have one session; Charlie (org B) has one with Bob's session id and one of his own."""
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
        for email in ("dana@a.test", "erin@a.test"):
            await users.create_user(uow, email, email[:4].title(), "developer")
        await teams.add_member(uow, "platform", "bob@a.test", "lead")
        await teams.add_member(uow, "platform", "dana@a.test", "member")
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "read", "admin"}), "api_key")
    ingestor = Ingestor(store)
    await record_events(ingestor, org_key, [
        *work(BOB_SESSION, "bob@a.test", 300), *work(DANA_SESSION, "dana@a.test", 200, "api"),
        *work("erin-session-1", "erin@a.test", 100)], "test")
    charlie_key = Principal(people.org_b, None, "admin", frozenset({"ingest", "read", "admin"}), "api_key")
    await record_events(ingestor, charlie_key, [*work(BOB_SESSION, "charlie@b.test", 50, "secret"),
                                                *work(CHARLIE_SESSION, "charlie@b.test", 40, "secret")], "test")
    await ingestor.close()
    async with store.unit_of_work(people.alice) as uow:
        by = {u.email: Principal(people.org_a, u.id, u.role, frozenset({"read"}), "user", u.email)
              for u in await users.list_users(uow)}
    return by


