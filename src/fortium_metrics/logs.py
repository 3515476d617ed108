"""Logging: `text` (uvicorn's usual lines) or `json` (FORTIUM_LOG_FORMAT): one object per line
with the time, level, logger, message, the request id and the organisation id of the request
being served. In both formats every record passes `redact` first: API keys, bearer and JSON web
tokens, passwords in URLs or `password=` pairs never reach a log."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import datetime, timezone

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fortium_request_id", default=None)

_SECRETS = [
    (re.compile(r"fmk_[A-Za-z0-9_\-]+"), "fmk_[redacted]"),  # API keys
    (re.compile(r"(?i)\b(bearer)\s+[^\s,;\"']+"), r"\1 [redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), "[redacted jwt]"),
    (re.compile(r"(?i)((?:password|passwd|secret|token|client_secret|api_key)[\"']?\s*[=:]\s*[\"']?)[^\s,;&\"'}]+"),
     r"\1[redacted]"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),  # URL credentials
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _organization_id() -> str | None:
    from mcp.server.auth.middleware.auth_context import get_access_token

    principal = getattr(get_access_token(), "principal", None)
    org = getattr(principal, "organization_id", None)
    return str(org) if org else None


class RedactingFilter(logging.Filter):
    """Renders the message with its arguments, then removes secrets from it (and from tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        org = getattr(record, "organization_id", None) or _organization_id()
        for key, value in (("request_id", request_id_var.get()), ("organization_id", org)):
            if value:
                entry[key] = value
        for key in ("method", "route", "path", "status", "duration_ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text or record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str, level: str) -> None:
    """Install one handler on the root logger (uvicorn's loggers propagate to it) for the format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # APScheduler says "Running job …" twice a minute at INFO; its warnings and errors still show.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    # JSON mode logs its own access line (web/request_log.py: the route, never the query string).
    logging.getLogger("uvicorn.access").disabled = log_format == "json"
