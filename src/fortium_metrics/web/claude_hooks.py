"""The HTTP hook endpoint Claude Code POSTs hook JSON to.

Always a fast 204 with an empty body for anything we can read: a hook's response body would be
added to the model's context or could block it (see the hooks doc). Bad credentials (401) and
unreadable JSON (422) are non-2xx, which Claude Code treats as a non-blocking notice.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import Invalid
from ..hooks import to_event
from ..ingest import record_events
from .auth import request_principal
from .bodies import read_json
from .errors import ErrorEnvelope
from .openapi import Operation, documented

HOOK_PATH = "/api/v1/hooks/claude-code"


_EXAMPLE = {"session_id": "a4c2e8f0-1d3b-4a5c-8e7f-9b0a1c2d3e4f", "hook_event_name": "PostToolUse", "tool_name": "Edit",
            "tool_input": {"file_path": "src/LoginForm.tsx"}, "tool_use_id": "toolu_01HkEdit7pQ2rS9tU4vW6xY8z",
            "duration_ms": 14, "cwd": "/home/dev/src/web-app"}


@documented(Operation(
    summary="Claude Code HTTP hook: any hook event's JSON", tag="hooks", body=dict[str, Any], examples={"PostToolUse": _EXAMPLE},
    description="Answers 204 with an empty body whatever the event (a body would reach the model's context). "
                "Events that count are recorded; prompt text and tool input/output are never stored.",
    responses={204: ("Received.", None), 422: ("Not a JSON object.", ErrorEnvelope)}))
async def claude_code_hook(request: Request) -> Response:
    principal = await request_principal(request)
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise Invalid("body: expected a hook JSON object", field="body")
    event = to_event(payload, datetime.now(timezone.utc))
    if event is not None:
        await record_events(request.app.state.ctx.ingestor, principal, [event], "hook", strict_teams=False)
    return Response(status_code=204)


def claude_hook_routes() -> list[BaseRoute]:
    return [Route(HOOK_PATH, claude_code_hook, methods=["POST"])]
