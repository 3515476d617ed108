"""The one mapper from the domain error vocabulary to what an MCP client (a model) reads.

Each message says what went wrong *and* what to do next, because the reader is a model that will
retry on its own: "fix field X", "ask for a key with scope Y", "wait and retry".
"""
from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import DataError

from ..errors import (Conflict, DomainError, Forbidden, Invalid, NotFound, RateLimited, Unauthorized, Unavailable,
                      refused_value, unavailable)

_HINTS: tuple[tuple[type[DomainError], str, str], ...] = (
    (Invalid, "invalid input", "Correct the named field and call again."),
    (NotFound, "not found", "Check the name or id; the caller only sees its own organisation."),
    (Forbidden, "forbidden", "Use an API key that has this scope (an organisation admin can create one)."),
    (Unauthorized, "unauthorized", "Send a valid API key: Authorization: Bearer <FORTIUM_API_KEY>."),
    (RateLimited, "rate limited", "Wait a minute and retry."),
    (Conflict, "conflict", "It already exists; use the existing one."),
    (Unavailable, "temporarily unavailable", "Nothing was wrong with the call: retry it in a few seconds."),
)


def tool_error_message(error: DomainError) -> str:
    for kind, label, hint in _HINTS:
        if isinstance(error, kind):
            return f"{label}: {error.message}. {hint}"
    return error.message


def domain_cause(error: BaseException) -> DomainError | None:
    """The DomainError behind an SDK wrapper (UnexpectedToolError/ResourceError), if any; a value
    the database refused counts as invalid input (errors.refused_value), one it cannot reach as
    a reason to retry (errors.unavailable)."""
    seen = error
    while seen is not None:
        if isinstance(seen, DomainError):
            return seen
        if isinstance(seen, DataError):
            return refused_value(seen)
        if (down := unavailable(seen)) is not None:
            return down
        seen = seen.__cause__
    return None


def arguments_message(error: ValidationError) -> str:
    """Pydantic's report, reduced to `field: problem (got value)` per argument, without doc links."""
    problems = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "arguments"
        got = "" if detail["type"] == "missing" else f" (got {detail.get('input')!r:.60})"
        problems.append(f"{field}: {detail['msg']}{got}")
    return f"invalid arguments: {'; '.join(problems)}. Check the tool's input schema (tools/list) and call again."
