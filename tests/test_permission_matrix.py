"""The generated authorisation matrix: every served endpoint and every MCP tool × each role ×
own organisation / another organisation, on SQLite and PostgreSQL.

Expected outcomes come from permissions.ACTIONS (via web/route_actions.py), not from a table
written here: own organisation → allowed (anything but 401/403/404) or 403; another
organisation → 404 for a path naming an object of org A, or no trace of org A in the answer.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from mcp import Client
from starlette.routing import Route

from rest_support import bearer
from fortium_metrics import apikeys, invitations, projects, teams, users
from fortium_metrics.accounts import ROLE_SCOPES
from fortium_metrics.dashboards import service as dashboards
from fortium_metrics.dashboards.defaults import PERSONAL
from fortium_metrics.ingest import record_events
from fortium_metrics.mcp.server import build_mcp
from fortium_metrics.permissions import ACTIONS
from fortium_metrics.principal import Principal
from fortium_metrics.web.route_actions import BROWSER_FORMS, MCP_ENDPOINTS, ROUTE_ACTIONS, mcp_tool_action

pytestmark = pytest.mark.anyio
ROLES = ("admin", "manager", "developer", "lead")


@dataclass
class World:
    tokens: dict[str, str]  # role (own org) or other-admin/other-developer -> access token
    principals: dict[str, Principal]
    path_ids: dict[str, str]  # path parameter -> an org A object
    secrets_of_a: list[str]  # strings that must never appear in another organisation's answers
    own_ids: dict[str, dict[str, str]]  # role -> path parameters of objects that are the caller's own (dashboards)


def allowed(action: str | None, role: str) -> bool:
    if action is None:
        return True
    rule = ACTIONS[action]
    base_role = "developer" if role == "lead" else role
    return base_role in rule.roles or (rule.team_lead_may and role == "lead")


@pytest.fixture
async def world(store, people, app) -> World:
    org_admin = Principal.org_admin(people.org_a)
    async with store.unit_of_work(org_admin) as uow:
        manager = await users.create_user(uow, "manager@a.test", "Manager", "manager")
        lead = await users.create_user(uow, "lead@a.test", "Lead", "developer")
        team = await teams.create_team(uow, "Platform Secret Team")
        await teams.add_member(uow, team.slug, "lead@a.test", "lead")
        await teams.add_member(uow, team.slug, "bob@a.test", "member")
        project = await projects.create_project(uow, "project-of-org-a")
        key = (await apikeys.create_api_key(uow, "key of org a")).key
        invitation = (await invitations.invite(uow, "invited-to-org-a@a.test")).invitation
    await record_events(app.state.ctx.ingestor, people.bob, [
        {"type": "session_start", "session_id": "session-of-org-a"},
        {"type": "tool_execution", "tool_name": "ToolOfOrgA", "session_id": "session-of-org-a"}], "test")
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        other_admin = await users.create_user(uow, "admin@b.test", "B Admin", "admin")
    identities = {
        "admin": (people.org_a, people.alice.user_id, "admin"), "manager": (people.org_a, manager.id, "manager"),
        "developer": (people.org_a, people.bob.user_id, "developer"), "lead": (people.org_a, lead.id, "developer"),
        "other-admin": (people.org_b, other_admin.id, "admin"), "other-developer": (people.org_b, people.charlie.user_id, "developer"),
    }
    tokens, principals = {}, {}
    for name, (org, user_id, role) in identities.items():
        async with store.unit_of_work(Principal.org_admin(org)) as uow:
            user = await users.get_user(uow, user_id)
        tokens[name] = (await app.state.ctx.accounts.sign_in_user(user, "test")).access_token
        principals[name] = Principal(org, user_id, role, ROLE_SCOPES[role], "user", name)
    own_ids = {}
    for name in ("admin", "manager", "developer", "lead"):  # a layout of each, its own to change and delete
        async with store.unit_of_work(principals[name]) as uow:
            layout = PERSONAL.model_copy(update={"name": f"Dashboard Of Org A {name}"})
            own_ids[name] = {"dashboard_id": str((await dashboards.create_dashboard(uow, layout)).id)}
    return World(tokens, principals,
                 {"user_id": str(people.bob.user_id), "team_id": str(team.id), "project_id": str(project.id),
                  "key_id": str(key.id), "session_id": "session-of-org-a", "invitation_id": str(invitation.id),
                  **own_ids["admin"]},
                 ["Platform Secret Team", "project-of-org-a", "key of org a", "ToolOfOrgA", "bob@a.test",
                  "Dashboard Of Org A", "invited-to-org-a@a.test"], own_ids)


def served_routes(app) -> list[tuple[str, str]]:
    pairs = []
    for route in app.routes:
        if isinstance(route, Route) and not route.path.startswith(MCP_ENDPOINTS):
            pairs += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return pairs


async def test_every_served_route_is_classified(app):
    missing = [pair for pair in served_routes(app) if pair not in ROUTE_ACTIONS]
    assert missing == []
    assert all(action is None or action in ACTIONS for action in ROUTE_ACTIONS.values())


def _examples(document: dict) -> dict[tuple[str, str], object]:
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            examples = content.get("examples") or {}
            if examples:
                found[(method.upper(), path)] = next(iter(examples.values()))["value"]
    return found


async def _call(api, method, path, world, who, examples):
    ids = {**world.path_ids, **world.own_ids.get(who, {})}
    url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "00000000-0000-4000-8000-000000000000"), path)
    body = examples.get((method, path))
    if path.startswith(("/v1/", "/otlp")):
        body = {"resourceLogs": []} if "logs" in path or path == "/otlp" else {"resourceMetrics": []}
    elif path == "/api/teams/{team_id}/members" and method == "POST":
        body = {"user": "bob@a.test", "role": "member"}  # exists in org A whoever runs first
    elif path == "/api/dashboards/{dashboard_id}/publish" and method == "POST":
        body = {"to": "team", "team": world.path_ids["team_id"]}  # the team the lead leads
    elif path == "/api/v1/hooks/claude-code":
        body = {"hook_event_name": "Stop", "session_id": "matrix"}
    elif body is None and method in ("POST", "PUT"):
        body = {}
    return await api.request(method, url, json=body, headers=bearer(world.tokens[who]))


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_in_its_own_organisation(api, app, world, role):
    examples = _examples((await api.get("/api/v1/openapi.json")).json())
    failures = []
    for method, path in served_routes(app):
        action = ROUTE_ACTIONS[(method, path)]
        if path.startswith(("/api/auth/", "/invite/")) and action is None:
            continue  # sign-in endpoints take credentials, not roles (tests/test_auth_api.py, test_admin_pages.py)
        response = await _call(api, method, path, world, role, examples)
        if allowed(action, role):  # an empty browser form may name nothing: 404 (tests/test_admin_pages.py)
            ok = response.status_code not in (401, 403) + (() if (method, path) in BROWSER_FORMS else (404,))
        else:
            ok = response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
        if not ok:
            failures.append((method, path, action, response.status_code, response.text[:160]))
    assert failures == []


@pytest.mark.parametrize("who", ["other-admin", "other-developer"])
async def test_another_organisation_finds_nothing_of_org_a(api, app, world, who):
    examples = _examples((await api.get("/api/v1/openapi.json")).json())
    role = who.split("-")[1]
    failures = []
    for method, path in served_routes(app):
        action = ROUTE_ACTIONS[(method, path)]
        if path.startswith(("/api/auth/", "/invite/")) and action is None:
            continue
        response = await _call(api, method, path, world, who, examples)
        names_a_object = "{" in path
        if not allowed(action, role):  # refused either way; a 404 reveals no more than a 403
            ok = response.status_code in ((403, 404) if names_a_object else (403,))
        elif names_a_object:
            ok = response.status_code == 404
        elif (method, path) in BROWSER_FORMS:  # an empty form: refused, or names nothing of theirs
            ok = response.status_code in (404, 422)
        else:
            ok = response.status_code < 400 or response.status_code == 409
        leaked = [s for s in world.secrets_of_a if s in response.text]
        if not ok or leaked:
            failures.append((method, path, response.status_code, leaked, response.text[:160]))
    assert failures == []


@pytest.mark.parametrize("who", ["admin", "manager", "developer", "lead", "other-admin", "other-developer"])
async def test_every_mcp_tool_for_each_role(app, world, who):
    server = build_mcp(app.state.ctx, identity=world.principals[who])
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) >= 15
        for tool in tools:
            action = mcp_tool_action(tool.name)
            arguments = _arguments(tool.input_schema)
            result = await client.call_tool(tool.name, arguments)
            text = json.dumps(result.structured_content or [c.model_dump() for c in result.content])
            allowed_here = allowed(action, who.split("-")[-1] if who.startswith("other") else who)
            assert allowed_here, tool.name  # every tool is open to every role; the rows are narrowed
            assert not result.is_error or "may not" not in text, (tool.name, text)
            if who.startswith("other"):
                assert not [s for s in world.secrets_of_a if s in text], (tool.name, text)


def _arguments(schema: dict) -> dict:
    """Smallest valid arguments from a tool's input schema."""
    samples = {"string": "x", "number": 1, "integer": 1, "boolean": True, "object": {}, "array": []}
    arguments = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        if "enum" in spec:
            arguments[name] = spec["enum"][0]
        elif name == "events":
            arguments[name] = [{"type": "task", "task_name": "matrix"}]
        elif name == "session_id":
            arguments[name] = "session-of-org-a"
        else:
            kind = spec.get("type") or next((s.get("type") for s in spec.get("anyOf", []) if s.get("type") != "null"), "string")
            arguments[name] = samples.get(kind, "x")
    return arguments


def test_the_permissions_document_is_current():
    from pathlib import Path

    from fortium_metrics.permissions_doc import render

    assert (Path(__file__).resolve().parents[1] / "docs" / "permissions.md").read_text() == render()


async def test_the_document_lists_every_mcp_tool(app, world):
    from fortium_metrics.permissions_doc import MCP_TOOLS

    async with Client(build_mcp(app.state.ctx, identity=world.principals["admin"])) as client:
        assert {t.name for t in (await client.list_tools()).tools} == set(MCP_TOOLS)
