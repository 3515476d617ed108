"""The domain error vocabulary. Adapters map these: REST -> JSON envelope, MCP -> ToolError, CLI -> exit code."""
from __future__ import annotations


class DomainError(Exception):
    """Base class; `code` is stable and machine-readable, the message is for people."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    code, status = "invalid", 422


class BadRequest(DomainError):
    """Malformed input where the protocol wants 400 (OTLP), not 422."""

    code, status = "bad_request", 400


class NotFound(DomainError):
    code, status = "not_found", 404


class Forbidden(DomainError):
    code, status = "forbidden", 403


class Unauthorized(DomainError):
    code, status = "unauthorized", 401


class Conflict(DomainError):
    code, status = "conflict", 409


class RateLimited(DomainError):
    code, status = "rate_limited", 429


class Unavailable(DomainError):
    """The database cannot be reached (down, restarting, connection cut): nothing is wrong with
    the request, and the same request will work once it is back."""

    code, status = "unavailable", 503
    retry_after = 5  # seconds


class ConfigError(DomainError):
    code, status = "config", 500


def refused_value(error: Exception) -> Invalid:
    """A value the database refuses (sqlalchemy's DataError: PostgreSQL takes no U+0000 in a path,
    a query parameter or a name) is the caller's error; REST and MCP both report it so. Ingestion
    replaces U+0000 before it gets this far (events.without_nul)."""
    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
    return Invalid(f"the database cannot take a value of this request: {reason}")


def unavailable(error: BaseException) -> Unavailable | None:
    """An Unavailable for an error that means "the database cannot be reached", else None. The
    message says nothing of where the database is (the caller may be anyone); the log does."""
    from .store.engine import is_unreachable  # the store knows its drivers' errors

    if not is_unreachable(error):
        return None
    return Unavailable(f"the database is unavailable right now; retry in {Unavailable.retry_after} s")
