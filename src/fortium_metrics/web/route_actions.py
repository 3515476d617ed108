"""Which permission (permissions.ACTIONS) each served route needs — the adapter half of the
permission matrix. Services enforce the actions; this table lets the docs and the generated
authorisation test enumerate every endpoint. A route missing here fails that test."""
from __future__ import annotations

PUBLIC = None  # no credential needed

# The administration pages (web/pages/admin_*.py). The form posts among them (BROWSER_FORMS)
# take form fields, not JSON: an empty form is refused (422) or names nothing (404).
BROWSER_FORMS: dict[tuple[str, str], str | None] = {
    ("POST", "/admin/users"): "users.create",
    ("POST", "/admin/users/invite"): "users.create",
    ("POST", "/admin/invitations/{invitation_id}/withdraw"): "users.create",
    ("POST", "/admin/users/{user_id}/role"): "users.update",
    ("POST", "/admin/users/{user_id}/active"): "users.update",
    ("POST", "/admin/users/{user_id}/password"): "users.password",
    ("POST", "/admin/teams"): "teams.create",
    ("POST", "/admin/teams/{team_id}/rename"): "teams.create",
    ("POST", "/admin/teams/{team_id}/archive"): "teams.create",
    ("POST", "/admin/teams/{team_id}/members"): "teams.members",
    ("POST", "/admin/teams/{team_id}/members/remove"): "teams.members",
    ("POST", "/admin/keys"): "apikeys.manage",
    ("POST", "/admin/keys/{key_id}/revoke"): "apikeys.manage",
    ("POST", "/admin/settings"): "org.update",
    ("POST", "/admin/sso"): "sso.configure",
    ("POST", "/admin/sso/test"): "sso.configure",
    ("POST", "/admin/sso/remove"): "sso.configure",
    ("POST", "/admin/projects"): "projects.write",
    ("POST", "/admin/projects/{project_id}"): "projects.write",
    ("POST", "/connect/keys"): "apikeys.own",
    ("POST", "/connect/keys/{key_id}/revoke"): "apikeys.own",
    ("POST", "/invite/{token}"): PUBLIC,  # the invitation's token is the credential
}
ADMIN_PAGES: dict[tuple[str, str], str | None] = {
    ("GET", "/admin/users"): "users.create",
    ("GET", "/admin/users/{user_id}"): "users.create",
    ("GET", "/admin/teams"): "teams.create",
    ("GET", "/admin/teams/{team_id}"): "teams.create",
    ("GET", "/admin/projects"): "projects.write",
    ("GET", "/admin/keys"): "apikeys.manage",
    ("GET", "/admin/settings"): "org.update",
    ("GET", "/admin/sso"): "sso.configure",
    ("GET", "/admin/audit"): "audit.read",
    ("GET", "/admin/audit.csv"): "audit.read",
    ("GET", "/connect"): "apikeys.own",
    ("GET", "/invite/{token}"): PUBLIC,
    **BROWSER_FORMS,
}

ROUTE_ACTIONS: dict[tuple[str, str], str | None] = {
    ("GET", "/"): PUBLIC,  # redirects: to the overview when signed in, else to /login
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # its own rule: FORTIUM_METRICS_TOKEN or loopback (web/metrics.py)
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/api/auth/renew"): PUBLIC,
    ("POST", "/api/auth/signout"): PUBLIC,
    # Dashboard pages (web/pages/): the shell for every reader; numbers come from the analytics API.
    **{("GET", path): "metrics.read" for path in (
        "/overview", "/team", "/me", "/models", "/tools", "/projects", "/sessions", "/sessions/{session_id}")},
    ("GET", "/admin"): "org.update",
    **ADMIN_PAGES,
    ("GET", "/dashboards"): "dashboards.read",
    ("GET", "/dashboards/{dashboard_id}"): "dashboards.read",
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/v1/analytics/catalogue"): PUBLIC,
    ("GET", "/api/v1/hooks/health"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/refresh"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("GET", "/api/auth/sso/{org}/login"): PUBLIC,
    ("GET", "/api/auth/sso/callback"): PUBLIC,
    ("GET", "/api/auth/me"): "metrics.read",
    **{("POST", path): "events.record" for path in (
        "/api/v1/metrics/batch", "/api/v1/metrics/sessions/start", "/api/v1/metrics/sessions/end",
        "/api/v1/metrics/tool-executions", "/api/v1/metrics/agent-invocations", "/api/v1/metrics/commands",
        "/api/v1/metrics/tasks", "/api/v1/metrics/productivity", "/api/v1/metrics/token-usage",
        "/api/v1/metrics/code-changes", "/api/v1/hooks/tool-metrics", "/api/v1/hooks/session-start",
        "/api/v1/hooks/session-end", "/api/v1/hooks/productivity-data", "/mcp/metrics/collect",
        "/api/v1/hooks/claude-code", "/v1/metrics", "/v1/logs", "/otlp/v1/metrics", "/otlp/v1/logs", "/otlp")},
    **{("GET", path): "metrics.read" for path in (
        "/api/v1/summary", "/api/v1/stats/tools", "/api/v1/stats/agents", "/api/v1/sessions",
        "/api/v1/sessions/{session_id}", "/api/v1/sessions/{session_id}/timeline", "/api/v1/analytics/sessions",
        "/api/v1/activity", "/api/v1/analytics", "/api/v1/analytics/trend",
        "/api/v1/analytics/teams", "/api/v1/analytics/adoption", "/api/v1/analytics/forecast")},
    ("GET", "/api/users"): "users.list",
    ("POST", "/api/users"): "users.create",
    ("PUT", "/api/users/{user_id}"): "users.update",
    ("DELETE", "/api/users/{user_id}"): "users.update",
    ("GET", "/api/teams"): "teams.list",
    ("POST", "/api/teams"): "teams.create",
    ("GET", "/api/teams/{team_id}/members"): "teams.list",
    ("POST", "/api/teams/{team_id}/members"): "teams.members",
    ("PUT", "/api/teams/{team_id}"): "teams.create",
    ("DELETE", "/api/teams/{team_id}/members/{user_id}"): "teams.members",
    ("GET", "/api/projects"): "projects.list",
    ("POST", "/api/projects"): "projects.write",
    ("GET", "/api/projects/{project_id}"): "projects.list",
    ("PUT", "/api/projects/{project_id}"): "projects.write",
    ("DELETE", "/api/projects/{project_id}"): "projects.write",
    ("GET", "/api/keys"): "apikeys.manage",
    ("POST", "/api/keys"): "apikeys.manage",
    ("DELETE", "/api/keys/{key_id}"): "apikeys.manage",
    ("GET", "/api/invitations"): "users.list",
    ("POST", "/api/invitations"): "users.create",
    ("DELETE", "/api/invitations/{invitation_id}"): "users.create",
    ("GET", "/api/org"): "org.read",
    ("PUT", "/api/org"): "org.update",
    ("GET", "/api/audit"): "audit.read",
    ("GET", "/api/dashboards"): "dashboards.read",
    ("GET", "/api/dashboards/{dashboard_id}"): "dashboards.read",
    ("POST", "/api/dashboards"): "dashboards.write",
    ("PUT", "/api/dashboards/{dashboard_id}"): "dashboards.write",
    ("DELETE", "/api/dashboards/{dashboard_id}"): "dashboards.write",
    ("POST", "/api/dashboards/{dashboard_id}/publish"): "dashboards.publish_team",  # the organisation: publish_org
    ("DELETE", "/api/dashboards/{dashboard_id}/publish"): "dashboards.publish_team",
}

# MCP transports: each tool maps to an action (mcp/ tools call the same services).
MCP_ENDPOINTS = ("/mcp", "/sse", "/messages")


def mcp_tool_action(name: str) -> str:
    """Recording tools (new and legacy names) record; every other tool reads."""
    return "events.record" if name.startswith(("record", "collect_metrics")) else "metrics.read"
