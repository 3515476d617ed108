"""The demo organisation's activity: one person's day of Claude Code, as the events the real
sources send (events.py), each tagged with the source that would send it.

Deterministic: a day is generated from a random generator seeded with (seed, person, date), and
every event id derives from the same parts, so re-running stores nothing twice and a run on a
later day only adds the new days. Costs come from the service's own price table.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .importers.base import stable_id
from .importers.transcripts_prices import PriceTable

# (name, weight): how often each is picked.
MODELS = (("claude-sonnet-4-5", 70), ("claude-opus-4-1", 18), ("claude-haiku-4-5", 12))
TOOLS = (("Read", 30), ("Edit", 18), ("Bash", 16), ("Grep", 12), ("Write", 6), ("Task", 4), ("WebFetch", 3),
         ("mcp__github__get_pull_request", 2), ("mcp__github__create_pull_request", 1), ("mcp__github__list_issues", 1),
         ("mcp__linear__get_issue", 1), ("mcp__sentry__search_issues", 1))
TOOL_MS = {"Read": (20, 120), "Edit": (40, 200), "Bash": (300, 20_000), "Grep": (30, 400), "Write": (30, 150),
           "Task": (20_000, 240_000), "WebFetch": (800, 6_000)}
TOOL_FAILS = {"Bash": 0.12, "WebFetch": 0.08, "Edit": 0.03, "Task": 0.04}
DECIDED = ("Edit", "Write", "Bash")  # tools that ask for permission (edit/accept decisions)
AGENTS = (("Explore", 5), ("general-purpose", 3), ("code-reviewer", 3), ("test-runner", 2), ("frontend-developer", 1))
COMMANDS = (("/review", 4), ("/test", 3), ("/commit", 5), ("/compact", 2), ("/pr-comments", 1), ("/init", 1))
SKILLS = (("frontend-design", 3), ("xlsx", 1), ("pdf", 1), ("changelog", 2))
LANGUAGES = ("Python", "TypeScript", "Go", "SQL", "Kotlin", "Terraform")
ERRORS = ((529, "Overloaded"), (429, "Rate limited"), (500, "Internal server error"))
DEMO_NAMESPACE = uuid.UUID("0b7e1c52-5a36-4f7e-9d9c-0f6d1e2a3b4c")


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: str  # organisation role
    team: str | None  # team slug
    lead: bool
    projects: tuple[str, ...]
    activity: float  # sessions per working day, on average
    favourite_model: str


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[weight for _, weight in table])[0]


class DayBuilder:
    """Events of one person's day, by source (hook, otlp, mcp)."""

    def __init__(self, seed: int, person: Person, day: date, prices: PriceTable) -> None:
        self.seed, self.person, self.day, self.prices = seed, person, day, prices
        self.rng = random.Random(f"{seed}|{person.email}|{day.isoformat()}")
        self.by_source: dict[str, list[dict]] = {"hook": [], "otlp": [], "mcp": []}
        self._n = 0

    def _id(self, *parts) -> str:
        self._n += 1
        return stable_id("demo", self.seed, self.person.email, self.day.isoformat(), self._n, *parts)

    def _add(self, source: str, event: dict, at: datetime, session: str, project: str) -> None:
        event.update(timestamp=at.isoformat(), session_id=session, user=self.person.email, project=project)
        if self.person.team:
            event["team"] = self.person.team
        event.setdefault("event_id", self._id(event["type"]))
        self.by_source[source].append(event)

    def build(self) -> dict[str, list[dict]]:
        weekend = self.day.weekday() >= 5
        if self.rng.random() < (0.88 if weekend else 0.06):  # days off, weekends mostly
            return self.by_source
        mean = self.person.activity * (0.35 if weekend else 1.0)
        sessions = max(1, round(self.rng.gauss(mean, mean / 3)))
        clock = datetime.combine(self.day, time(7, 30), timezone.utc) + timedelta(minutes=self.rng.randint(0, 120))
        for number in range(sessions):
            clock = self._session(number, clock) + timedelta(minutes=self.rng.randint(10, 90))
        return self.by_source

    def _session(self, number: int, start: datetime) -> datetime:
        rng, person = self.rng, self.person
        session = str(uuid.uuid5(DEMO_NAMESPACE, f"{self.seed}|{person.email}|{self.day}|{number}"))
        project = rng.choice(person.projects)
        model = person.favourite_model if rng.random() < 0.75 else _pick(rng, MODELS)
        self._add("hook", {"type": "session_start", "attributes": {"source": "startup", "model": model}},
                  start, session, project)
        clock, prompts = start, max(1, int(rng.gauss(6, 2.5)))
        for prompt in range(prompts):
            clock = self._prompt(session, project, model, clock)
            if prompt == 9 or (prompt > 5 and rng.random() < 0.04):
                self._add("hook", {"type": "raw", "name": "compaction", "value": 1,
                                   "attributes": {"trigger": "auto" if prompt == 9 else "manual"}}, clock, session, project)
        self._delivery(session, project, clock)
        active = (clock - start).total_seconds()
        self._add("otlp", {"type": "productivity_metric", "metric": "active_time.user", "value": round(active * 0.4),
                           "unit": "s"}, clock, session, project)
        self._add("hook", {"type": "session_end", "attributes": {"reason": rng.choice(["prompt_input_exit", "clear", "logout"])}},
                  clock + timedelta(seconds=5), session, project)
        return clock

    def _prompt(self, session: str, project: str, model: str, at: datetime) -> datetime:
        rng = self.rng
        prompt_id = str(uuid.uuid5(DEMO_NAMESPACE, self._id("prompt-id")))
        attributes: dict = {"prompt.id": prompt_id}
        if rng.random() < 0.12:
            command = _pick(rng, COMMANDS)
            attributes["command_name"] = command
            self._add("mcp", {"type": "command", "command_name": command, "duration_ms": rng.randint(200, 4000),
                              "success": rng.random() > 0.03}, at, session, project)
        skill = _pick(rng, SKILLS) if rng.random() < 0.06 else None
        if skill:
            self._add("otlp", {"type": "raw", "name": "claude_code.skill_activated",
                               "attributes": {"skill.name": skill, "invocation_trigger": "claude-proactive"}},
                      at, session, project)
        self._add("otlp", {"type": "prompt", "prompt_length": int(rng.lognormvariate(5, 0.8)), "attributes": attributes},
                  at, session, project)
        clock = at + timedelta(seconds=rng.randint(3, 20))
        for _ in range(rng.randint(1, 3)):
            clock = self._request(session, project, model, clock, prompt_id, skill=skill)
            for _ in range(rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]):
                clock = self._tool(session, project, model, clock, prompt_id)
        return clock + timedelta(seconds=rng.randint(20, 240))

    def _request(self, session: str, project: str, model: str, at: datetime, prompt_id: str, *,
                 agent: str | None = None, skill: str | None = None) -> datetime:
        rng = self.rng
        if rng.random() < 0.012:
            status, message = rng.choice(ERRORS)
            self._add("otlp", {"type": "api_error", "model": model, "status_code": status, "error": message,
                               "attempt": rng.randint(1, 3), "attributes": {"prompt.id": prompt_id}}, at, session, project)
            at += timedelta(seconds=rng.randint(2, 20))
        tokens = {"input_tokens": rng.randint(3, 60), "output_tokens": int(rng.lognormvariate(6.2, 0.9)),
                  "cache_read_tokens": rng.randint(8_000, 140_000),
                  "cache_write_5m_tokens": rng.randint(0, 9_000) if rng.random() < 0.6 else 0,
                  "cache_write_1h_tokens": rng.randint(0, 4_000) if rng.random() < 0.15 else 0}
        price, _ = self.prices.lookup(model, self.day)
        cost = price.cost(tokens["input_tokens"], tokens["output_tokens"], tokens["cache_write_5m_tokens"],
                          tokens["cache_write_1h_tokens"], tokens["cache_read_tokens"]) if price else None
        duration = rng.randint(1_500, 45_000)
        attributes = {"prompt.id": prompt_id, "query_source": agent or "repl_main_thread"}
        if agent:
            attributes["agent.name"] = agent
        if skill:
            attributes["skill.name"] = skill
        self._add("otlp", {"type": "api_request", "request_id": f"req_demo_{self._id('request')[:24]}", "model": model,
                           "agent": agent, **tokens, "cost_usd": cost, "duration_ms": duration, "attributes": attributes},
                  at, session, project)
        return at + timedelta(milliseconds=duration)

    def _tool(self, session: str, project: str, model: str, at: datetime, prompt_id: str) -> datetime:
        rng = self.rng
        tool = _pick(rng, TOOLS)
        attributes: dict = {"prompt.id": prompt_id}
        if tool in DECIDED and rng.random() < 0.5:
            rejected = rng.random() < 0.08
            self._add("otlp", {"type": "tool_decision", "tool_name": tool, "decision": "reject" if rejected else "accept",
                               "decision_source": "user_reject" if rejected else rng.choice(["config", "user_temporary",
                                                                                            "user_permanent"]),
                               "attributes": {"language": rng.choice(LANGUAGES)}}, at, session, project)
            if rejected:
                return at + timedelta(seconds=rng.randint(5, 60))
        if tool.startswith("mcp__"):
            _, server, name = tool.split("__", 2)
            attributes |= {"mcp_server.name": server, "mcp_tool.name": name}
        low, high = TOOL_MS.get(tool, (300, 3_000))
        duration = rng.randint(low, high)
        success = rng.random() > TOOL_FAILS.get(tool, 0.01)
        if tool == "Task":
            at = self._subagent(session, project, at, prompt_id, attributes)
        self._add("otlp", {"type": "tool_execution", "tool_name": tool, "duration_ms": duration, "success": success,
                           "error": None if success else ("ShellError" if tool == "Bash" else "ToolError"),
                           "attributes": attributes}, at, session, project)
        return at + timedelta(milliseconds=duration)

    def _subagent(self, session: str, project: str, at: datetime, prompt_id: str, attributes: dict) -> datetime:
        rng = self.rng
        agent = _pick(rng, AGENTS)
        attributes["subagent_type"] = agent
        model = "claude-haiku-4-5" if agent == "Explore" else "claude-sonnet-4-5"
        start = at
        for _ in range(rng.randint(2, 4)):
            at = self._request(session, project, model, at, prompt_id, agent=agent)
        self._add("hook", {"type": "agent_invocation", "agent_name": agent, "success": rng.random() > 0.05,
                           "duration_ms": (at - start).total_seconds() * 1000,
                           "attributes": {"agent_type": agent}}, at, session, project)
        return at

    def _delivery(self, session: str, project: str, at: datetime) -> None:
        """Commits (and now and then a pull request) made through Claude Code in this session."""
        rng = self.rng
        commits = rng.choices([0, 1, 2, 3], weights=[45, 35, 15, 5])[0]
        for _ in range(commits):
            self._add("mcp", {"type": "code_change", "lines_added": int(rng.lognormvariate(4, 1.1)),
                              "lines_removed": int(rng.lognormvariate(3, 1.2)), "commit": self._id("commit")[:12],
                              "language": rng.choice(LANGUAGES)}, at, session, project)
        # Claude Code's own counters (OTLP claude_code.commit.count, pull_request.count): what the
        # `commits` and `pull_requests` measures add up.
        if commits:
            self._add("otlp", {"type": "productivity_metric", "metric": "commits", "value": commits}, at, session, project)
        if rng.random() < 0.12:
            number = int(self._id("pr")[:6], 16) % 9000 + 100
            self._add("mcp", {"type": "code_change", "pull_request": f"{project}#{number}"}, at, session, project)
            self._add("otlp", {"type": "productivity_metric", "metric": "pull_requests", "value": 1}, at, session, project)
