"""What can be asked: every measure and dimension, with the formula it stands for.

A measure belongs to a family, which decides where its numbers come from:
* `sum`: sums of the rollups' additive columns, under a condition on the event kind and name;
* `users`, `sessions`: exact distinct counts of people and sessions;
* `percentile`: a tool-duration percentile read off a logarithmic histogram;
* `ratio`: computed from other measures once those are known (so a rate never averages rates).
docs/analytics.md writes every formula out; it is generated from this table's texts.
"""
from __future__ import annotations

from dataclasses import dataclass

USAGE = ("api_request", "token_usage")  # the events that carry tokens and cost (agent invocations
# also carry their subagent's tokens, which the subagent's own API requests already count)
EDIT_TOOLS = ("Edit", "Write", "NotebookEdit", "MultiEdit")
COMPACTIONS = ("compaction", "claude_code.compaction")
TURNS = ("turn.completed", "turn.failed")


@dataclass(frozen=True)
class Sum:
    """Σ `column` (times `sign`) over the events where kind is one of `kinds` (all kinds if
    empty) and, when given, name is one of `names` (or, with names=("*",), is set)."""

    column: str
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    sign: int = 1


@dataclass(frozen=True)
class Measure:
    name: str
    family: str  # sum | users | sessions | percentile | ratio
    text: str
    parts: tuple[Sum, ...] = ()  # sum: added together
    ratio: tuple[str, str] | None = None  # ratio: (numerator, denominator) measure names
    denominator_adds: tuple[str, ...] = ()  # ratio: more measures added to the denominator
    percentile: float | None = None
    digits: int | None = None  # rounding of the answer; None: an integer
    hidden: bool = False  # an input of a ratio, not offered on its own
    combine: str = "sum"  # how parts and cells combine: "sum", or "max" (a maximum)

    def inputs(self) -> tuple[str, ...]:
        if self.family != "ratio":
            return ()
        return (*self.ratio, *self.denominator_adds)


def _count(name: str, text: str, *kinds: str, names: tuple[str, ...] = (), hidden: bool = False) -> Measure:
    return Measure(name, "sum", text, (Sum("n", kinds, names),), hidden=hidden)


def _total(name: str, text: str, column: str, *kinds: str, names: tuple[str, ...] = (), digits: int | None = None,
           hidden: bool = False) -> Measure:
    return Measure(name, "sum", text, (Sum(column, kinds, names),), digits=digits, hidden=hidden)


MEASURES: dict[str, Measure] = {m.name: m for m in (
    _count("events", "Events of every kind.", ),
    Measure("sessions", "sessions", "Distinct sessions with at least one event in the period (and cell)."),
    Measure("active_users", "users", "Distinct people with at least one event in the period (and cell)."),
    _count("prompts", "User prompts.", "prompt"),
    _count("api_requests", "Model API requests.", "api_request"),
    _count("api_errors", "Failed model API requests (each attempt that got an error).", "api_error"),
    Measure("api_error_rate", "ratio", "api_errors / (api_requests + api_errors).", ratio=("api_errors", "api_requests"),
            denominator_adds=("api_errors",), digits=4),
    _total("input_tokens", "Input tokens of API requests and token-usage reports.", "input_tokens", *USAGE),
    _total("output_tokens", "Output tokens of API requests and token-usage reports.", "output_tokens", *USAGE),
    _total("cache_read_tokens", "Tokens read from the prompt cache.", "cache_read_tokens", *USAGE),
    _total("cache_creation_tokens", "Tokens written to the prompt cache (5-minute, 1-hour and unsplit).",
           "cache_write_tokens", *USAGE),
    _total("cache_creation_tokens_5m", "Cache writes with a 5-minute lifetime.", "cache_write_5m_tokens", *USAGE),
    _total("cache_creation_tokens_1h", "Cache writes with a 1-hour lifetime.", "cache_write_1h_tokens", *USAGE),
    Measure("cache_creation_tokens_unsplit", "sum", "Cache writes reported without a 5m/1h split "
            "(cache_creation_tokens − _5m − _1h).",
            (Sum("cache_write_tokens", USAGE), Sum("cache_write_5m_tokens", USAGE, sign=-1),
             Sum("cache_write_1h_tokens", USAGE, sign=-1))),
    Measure("cache_hit_ratio", "ratio", "cache_read_tokens / (input_tokens + cache_read_tokens + "
            "cache_creation_tokens): the share of prompt tokens served from the cache.",
            ratio=("cache_read_tokens", "input_tokens"), denominator_adds=("cache_read_tokens", "cache_creation_tokens"),
            digits=4),
    _total("cost_usd", "Cost in USD of API requests and token-usage reports.", "cost_usd", *USAGE, digits=6),
    _count("tool_executions", "Tool executions (Read, Edit, Bash, MCP tools...).", "tool_execution"),
    _total("tool_successes", "Tool executions that succeeded.", "n_ok", "tool_execution", hidden=True),
    _total("tool_failures", "Tool executions that failed.", "n_fail", "tool_execution", hidden=True),
    Measure("tool_success_rate", "ratio", "succeeded / (succeeded + failed) tool executions; unknown outcomes "
            "count in neither.", ratio=("tool_successes", "tool_failures"), denominator_adds=("tool_successes",),
            digits=4),
    _total("tool_duration_sum_ms", "Total duration of tool executions that report one.", "dur_sum", "tool_execution",
           hidden=True, digits=3),
    _total("tool_durations", "Tool executions that report a duration.", "dur_n", "tool_execution", hidden=True),
    Measure("tool_duration_avg_ms", "ratio", "Mean duration of the tool executions that report one.",
            ratio=("tool_duration_sum_ms", "tool_durations"), digits=2),
    Measure("tool_duration_max_ms", "sum", "Longest tool execution.", (Sum("dur_max", ("tool_execution",)),),
            combine="max", digits=1),
    Measure("tool_duration_p50_ms", "percentile", "Median tool execution duration, read off a histogram with four "
            "buckets per doubling (within ±9.5%).", percentile=0.5, digits=1),
    Measure("tool_duration_p95_ms", "percentile", "95th percentile of tool execution durations (same histogram).",
            percentile=0.95, digits=1),
    _count("agent_invocations", "Subagent invocations.", "agent_invocation"),
    _total("agent_successes", "Subagent invocations that succeeded.", "n_ok", "agent_invocation", hidden=True),
    _total("agent_failures", "Subagent invocations that failed.", "n_fail", "agent_invocation", hidden=True),
    _total("agent_duration_sum_ms", "Total duration of subagent invocations.", "dur_sum", "agent_invocation",
           hidden=True, digits=3),
    _total("agent_durations", "Subagent invocations that report a duration.", "dur_n", "agent_invocation", hidden=True),
    Measure("agent_duration_avg_ms", "ratio", "Mean duration of the subagent invocations that report one.",
            ratio=("agent_duration_sum_ms", "agent_durations"), digits=2),
    Measure("agent_duration_max_ms", "sum", "Longest subagent invocation.", (Sum("dur_max", ("agent_invocation",)),),
            combine="max", digits=1),
    _total("agent_input_tokens", "Input tokens reported with subagent invocations themselves (not in "
           "input_tokens: the subagent's own API requests count there).", "input_tokens", "agent_invocation"),
    _total("agent_output_tokens", "Output tokens reported with subagent invocations themselves.", "output_tokens",
           "agent_invocation"),
    Measure("agent_success_rate", "ratio", "succeeded / (succeeded + failed) subagent invocations; unknown outcomes "
            "count in neither.", ratio=("agent_successes", "agent_failures"), denominator_adds=("agent_successes",),
            digits=4),
    Measure("commands", "sum", "Slash commands and workflows: recorded commands plus prompts that ran a command.",
            (Sum("n", ("command",)), Sum("n", ("prompt",), ("*",)))),
    _count("tasks", "Task status changes.", "task"),
    _total("tasks_completed", "Tasks that reached `completed`.", "n_ok", "task"),
    _total("lines_added", "Lines of code added.", "lines_added", "code_change"),
    _total("lines_removed", "Lines of code removed.", "lines_removed", "code_change"),
    _total("commits", "Commits made through Claude Code.", "value_sum", "productivity_metric", names=("commits",)),
    _total("pull_requests", "Pull requests created through Claude Code.", "value_sum", "productivity_metric",
           names=("pull_requests",)),
    _total("active_time_user_s", "Seconds of active use (typing, reading).", "value_sum", "productivity_metric",
           names=("active_time.user",), digits=1),
    _total("active_time_cli_s", "Seconds Claude Code was busy (tools, model responses).", "value_sum",
           "productivity_metric", names=("active_time.cli",), digits=1),
    _count("edit_decisions", "Accept/reject decisions on file edits (Edit, Write, NotebookEdit).", "tool_decision",
           names=EDIT_TOOLS),
    _total("edit_accepts", "Accepted file edits.", "n_ok", "tool_decision", names=EDIT_TOOLS, hidden=True),
    Measure("edit_accept_rate", "ratio", "edit accepts / edit decisions.", ratio=("edit_accepts", "edit_decisions"),
            digits=4),
    _count("compactions", "Context compactions (automatic or manual).", "other", names=COMPACTIONS),
    _count("turns", "Turns Claude finished (or failed).", "other", names=TURNS),
    _count("skill_activations", "Skills activated (by the user or by Claude).", "other",
           names=("claude_code.skill_activated",)),
    _count("api_retries_exhausted", "API requests that failed after every retry.", "other",
           names=("claude_code.api_retries_exhausted",)),
    _count("mcp_connection_events", "MCP server connections made, failed or closed.", "other",
           names=("claude_code.mcp_server_connection",)),
    Measure("cost_per_session", "ratio", "cost_usd / sessions.", ratio=("cost_usd", "sessions"), digits=6),
    Measure("cost_per_commit", "ratio", "cost_usd / commits.", ratio=("cost_usd", "commits"), digits=6),
)}
PUBLIC_MEASURES = [name for name, m in MEASURES.items() if not m.hidden]
# The overview's tiles, and what a query asks for when it names no measure.
KPI_MEASURES = ("active_users", "sessions", "prompts", "cost_usd", "input_tokens", "output_tokens", "cache_hit_ratio",
                "tool_success_rate", "lines_added", "lines_removed", "commits", "pull_requests")


@dataclass(frozen=True)
class Dimension:
    name: str
    text: str
    column: str | None = None  # the cube column it reads; None for the computed ones below


TIME_DIMENSIONS = ("hour", "day", "week", "month")
DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("hour", "Local hour (ISO 8601 with the organisation's UTC offset)."),
    Dimension("day", "Local date (the organisation's time zone)."),
    Dimension("week", "Monday of the local ISO week."),
    Dimension("month", "First day of the local month."),
    Dimension("team", "Team (slug): the team an event was recorded for, else its person's team then.", "team_id"),
    Dimension("user", "Person (e-mail).", "user_id"),
    Dimension("project", "Project (name).", "project_id"),
    Dimension("session", "Session id.", "session_id"),
    Dimension("model", "Model, e.g. claude-sonnet-4-5.", "model"),
    Dimension("tool", "Tool name (tool executions and decisions).", None),
    Dimension("command", "Slash command (commands, and prompts that ran one).", None),
    Dimension("agent", "Subagent name (its invocations, and the API requests and tools it ran).", "agent"),
    Dimension("skill", "Skill name.", "skill"),
    Dimension("mcp_server", "MCP server (its tools, and requests attributed to it).", "mcp_server"),
    Dimension("plugin", "Plugin name.", "plugin"),
    Dimension("query_source", "Claude Code's query source (main thread, subagent, compact...).", "query_source"),
    Dimension("source", "How the event arrived: otlp, hook, mcp, rest, import...", "source"),
    Dimension("language", "Programming language (code changes, edit decisions).", "language"),
    Dimension("app_version", "Claude Code version.", "app_version"),
)}
DEFAULT_LABELS = ("department", "cost_center")  # organisation labels offered unless configured otherwise
