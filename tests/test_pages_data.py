"""The dashboard pages that show data, in-process on both databases: what each page asks the
analytics service (its widgets), who gets the per-person table, the Me page's comparison team,
and the sessions list and timeline pages with their permissions and tenancy. The browser draws
the answers: tests/test_browser.py."""
from __future__ import annotations

import html
import re

import pytest

from session_support import BOB_SESSION, CHARLIE_SESSION, DANA_SESSION, team_world
from test_pages import HTML, PASSWORD, context_of, sign_in
from fortium_metrics.accounts import set_password
from fortium_metrics.analytics.catalogue import KPI_MEASURES
from fortium_metrics.principal import Principal

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(store, people):
    found = await team_world(store, people)
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        for email in ("alice@a.test", "bob@a.test", "dana@a.test", "erin@a.test"):
            await set_password(uow, email, PASSWORD)
    return found


def widgets(page: str) -> dict[str, dict[str, str]]:
    """Each widget slot's data attributes, by title."""
    found = {}
    for tag in re.findall(r"<section class=\"widget[^>]*>", page):
        attributes = {name: html.unescape(value) for name, value in re.findall(r'data-([a-z-]+)(?:="([^"]*)")?', tag)}
        found[attributes["title"]] = attributes
    return found


async def test_the_overview_asks_for_every_key_figure_and_the_issue_s_charts(api, people, world):
    await sign_in(api, people)
    shown = widgets((await api.get("/overview?granularity=week", headers=HTML)).text)
    assert shown["Key figures"]["measures"].split(",") == list(KPI_MEASURES)
    assert (shown["Cost by model"]["group-by"], "stack" in shown["Cost by model"]) == ("week,model", True)
    assert shown["Tokens by kind"]["measures"] == "input_tokens,output_tokens,cache_read_tokens,cache_creation_tokens"
    assert {shown[t]["group-by"] for t in ("Active people", "Sessions")} == {"week"}
    assert [(shown[t]["group-by"], shown[t]["top"]) for t in ("Top tools", "Top subagents", "Top MCP servers")] == [
        ("tool", "10"), ("agent", "10"), ("mcp_server", "10")]
    assert (shown["Teams compared"]["widget"], shown["Teams compared"]["group-by"]) == ("table", "team")


async def test_the_team_page_opens_on_one_s_team_and_shows_members_to_its_lead(api, people, world):
    await sign_in(api, people, email="bob@a.test")  # Platform's lead
    page = (await api.get("/team", headers=HTML)).text
    assert context_of(page)["filters"]["team"] == ["platform"] and "Members" in widgets(page)
    api.cookies.clear()
    await sign_in(api, people, email="dana@a.test")  # a member: the team's aggregates, no one's row
    page = (await api.get("/team", headers=HTML)).text
    assert context_of(page)["filters"]["team"] == ["platform"] and "Members" not in widgets(page)
    api.cookies.clear()
    await sign_in(api, people)  # an admin: every team, every member
    page = (await api.get("/team", headers=HTML)).text
    assert "team" not in context_of(page)["filters"] and "Members" in widgets(page)


async def test_the_me_page_compares_with_one_s_team(api, people, world):
    await sign_in(api, people, email="dana@a.test")
    peer = widgets((await api.get("/me", headers=HTML)).text)["You and your team's average person"]
    assert peer["widget"] == "peer" and peer["peer-team"] == "platform"
    api.cookies.clear()
    await sign_in(api, people, email="erin@a.test")  # in no team: nothing to compare with
    assert "peer-team" not in widgets((await api.get("/me", headers=HTML)).text)["You and your team's average person"]


async def test_the_sessions_page_lists_what_one_may_see_and_searches(api, people, world):
    await sign_in(api, people)
    page = (await api.get("/sessions", headers=HTML)).text
    assert {BOB_SESSION, DANA_SESSION, "erin-session-1"} <= set(re.findall(r'href="/sessions/([^"?]+)', page))
    assert CHARLIE_SESSION not in page and ">3 sessions<" in page
    found = (await api.get("/sessions?q=dana&range=7d", headers=HTML)).text
    assert re.findall(r'href="/sessions/([^"?]+)', found) == [DANA_SESSION] and 'value="dana"' in found
    api.cookies.clear()
    await sign_in(api, people, email="dana@a.test")
    assert re.findall(r'href="/sessions/([^"?]+)', (await api.get("/sessions", headers=HTML)).text) == [DANA_SESSION]
    refused = await api.get("/sessions?team=platform", headers=HTML)  # a member may not list the team's sessions
    assert refused.status_code == 200 and "team data" in refused.text and "No sessions match" in refused.text


async def test_the_timeline_page_is_for_those_who_may_see_the_session(api, people, world):
    await sign_in(api, people, email="bob@a.test")
    page = await api.get(f"/sessions/{DANA_SESSION}", headers=HTML)
    assert page.status_code == 200 and "529 Overloaded" in page.text and "ShellError" in page.text
    assert page.text.count('class="timeline-item') == 10 and "Context compacted" in page.text
    assert (await api.get("/sessions/erin-session-1", headers=HTML)).status_code == 403
    other_org = await api.get(f"/sessions/{CHARLIE_SESSION}", headers=HTML)
    assert other_org.status_code == 404 and "Not found" in other_org.text
    assert (await api.get("/sessions/" + "x" * 300, headers=HTML)).status_code == 404
