"""build_mcp(...) -> MCPServer: the fortium-metrics MCP server, a factory (nothing at import time).

The same server serves every transport. Over HTTP the caller is the API key's principal (the host
app authenticates; tools read it with get_access_token()); over stdio it is the `identity` given
here (embedded mode) or the remote server's key (forwarder mode, `forwarder=`).

`FortiumMCP` adds two things to the SDK's server, at its two entry points (call_tool and
read_resource) so no tool has to remember them:
* domain errors become tool/resource errors with an actionable message (`errors.py`);
* in forwarder mode, read-only tools and resources are answered by the remote server.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Protocol

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult
from pydantic import ValidationError

from .. import __version__
from ..context import AppContext
from ..principal import Principal
from .backend import Backend, LocalBackend
from .errors import arguments_message, domain_cause, tool_error_message
from .legacy_tools import register_legacy_tools
from .query_tools import register_query_tools
from .record_tools import register_record_tools
from .resources import register_prompts, register_resources

NAME = "fortium-metrics"
INSTRUCTIONS = """Records and reports how this team uses AI coding agents.
Record: call record_session_start once per session (keep the session_id it returns), then
record_tool_use, record_agent_invocation, record_command, record_task or record_productivity_metric
as things happen (or record_events for many at once), and record_session_end at the end.
Report: query_metrics (any measure by any dimension: cost by model, tokens by day, top tools...),
productivity_summary, tool_stats, agent_stats, session_metrics, recent_activity.
Everything is scoped to the caller's organisation."""


class RemoteServer(Backend, Protocol):
    """A backend that can also answer reads by asking the remote server (the forwarder)."""

    async def call_remote_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult: ...

    async def read_remote_resource(self, uri: str) -> list[ReadResourceContents]: ...


class FortiumMCP(MCPServer):
    def __init__(self, *args: Any, remote: RemoteServer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remote = remote
        self._read_only: dict[str, bool] | None = None  # tool name -> read-only, filled on first call

    def add_tool(self, fn: Any, *args: Any, description: str | None = None, **kwargs: Any) -> None:
        # The SDK sends a docstring as it is, indentation included: a model reads the tool's
        # description first, so it gets the docstring as written, dedented.
        super().add_tool(fn, *args, description=description or inspect.cleandoc(fn.__doc__ or ""), **kwargs)

    async def _tools(self) -> dict[str, bool]:
        if self._read_only is None:
            self._read_only = {tool.name: bool(tool.annotations and tool.annotations.read_only_hint)
                               for tool in await self.list_tools()}
        return self._read_only

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        tools = await self._tools()
        if name not in tools:
            raise ToolError(f"Unknown tool: {name}. Available tools: {', '.join(sorted(tools))}.")
        if self.remote is not None and tools[name]:
            return await self.remote.call_remote_tool(name, arguments)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: {arguments_message(error.__cause__)}") from error.__cause__
            if (cause := domain_cause(error)) is None:
                raise
            raise ToolError(f"Error executing tool {name}: {tool_error_message(cause)}") from cause

    async def read_resource(self, uri: Any, context: Any = None) -> Iterable[ReadResourceContents] | Any:
        if self.remote is not None:
            return await self.remote.read_remote_resource(str(uri))
        try:
            return await super().read_resource(uri, context)
        except ResourceError as error:
            if (cause := domain_cause(error)) is None:
                raise
            raise ResourceError(f"Error reading resource {uri}: {tool_error_message(cause)}") from cause


def build_mcp(ctx: AppContext | None, identity: Principal | None = None, *, verifier: Any = None,
              forwarder: RemoteServer | None = None, log_level: str = "INFO") -> FortiumMCP:
    """`verifier` (HTTP): the TokenVerifier whose principal the tools act as. `forwarder` (stdio
    forwarder mode): records and reads go to a remote server instead of `ctx`'s store."""
    if forwarder is None and ctx is None:
        raise ValueError("build_mcp needs an AppContext (local services) or a forwarder")
    backend: Backend = forwarder or LocalBackend(ctx, identity)
    auth = None
    if verifier is not None:
        # We are a resource server for our own API keys: no OAuth authorisation server is advertised
        # (resource_server_url=None), so clients send their configured Bearer key instead of
        # starting an OAuth flow that cannot succeed.
        auth = AuthSettings(issuer_url="http://localhost", resource_server_url=None, validate_token_resource=False)
    mcp = FortiumMCP(NAME, instructions=INSTRUCTIONS, version=__version__, token_verifier=verifier, auth=auth,
                     remote=forwarder, log_level=log_level.upper())
    register_record_tools(mcp, backend)
    register_query_tools(mcp, backend)
    register_legacy_tools(mcp, backend)
    register_resources(mcp, backend)
    register_prompts(mcp)
    return mcp
