"""The OpenAPI document and the handlers agree: each disagreement the fuzzer found
(tests/test_rest_fuzz.py) as a sentence of its own, on both databases."""
from __future__ import annotations

import re

import jsonschema
import pytest

from rest_support import bearer

pytestmark = pytest.mark.anyio


async def document(api) -> dict:
    return (await api.get("/api/v1/openapi.json")).json()


def body_validator(doc: dict, path: str, method: str = "post") -> jsonschema.Draft202012Validator:
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


async def test_start_equal_to_end_is_an_empty_window_and_after_it_an_error(api, keys):
    same = await api.get("/api/v1/summary?start=2025-01-01T00:00:00Z&end=2025-01-01T00:00:00Z", headers=bearer(keys["alice"]))
    after = await api.get("/api/v1/stats/tools?start=2025-01-02&end=2025-01-01", headers=bearer(keys["alice"]))
    assert same.status_code == 200 and same.json()["sessions"] == 0 and same.json()["tool_executions"] == 0
    assert after.status_code == 422 and after.json()["error"]["field"] == "start"


async def test_a_number_is_not_a_window_bound(api, keys):
    response = await api.get("/api/v1/summary?start=0.5", headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "start"


@pytest.mark.parametrize("method, path, allowed", [
    ("OPTIONS", "/api/users", "GET, HEAD, POST"), ("PUT", "/api/teams", "GET, HEAD, POST"),
    ("OPTIONS", "/api/projects/p1", "DELETE, GET, HEAD, PUT"), ("GET", "/api/v1/metrics/batch", "POST")])
async def test_a_method_the_path_does_not_serve_is_405_naming_every_one_it_does(api, keys, method, path, allowed):
    response = await api.request(method, path, headers=bearer(keys["alice_admin"]))
    assert response.status_code == 405 and response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_an_unknown_path_is_a_404_envelope(api):
    response = await api.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["field"] == "path"


async def test_get_and_post_of_one_path_document_their_own_parameters(api):
    doc = await document(api)
    assert {p["name"] for p in doc["paths"]["/api/projects"]["get"]["parameters"]} >= {"page", "limit", "status"}
    assert doc["paths"]["/api/projects"]["post"]["parameters"] == []


async def test_a_null_type_on_a_typed_endpoint_means_the_paths_type(api, keys):
    response = await api.post("/api/v1/metrics/tasks", json={"type": None, "task_name": "x", "status": "completed"},
                              headers=bearer(keys["alice"]))
    assert response.status_code == 201, response.text


async def test_any_team_name_gets_a_valid_slug(api, keys):
    response = await api.post("/api/teams", json={"name": "0"}, headers=bearer(keys["alice_admin"]))
    assert response.status_code == 201 and response.json()["slug"] == "0x"


@pytest.mark.parametrize("name", ["   ", "\x1e\u3000", "\t"])
async def test_a_whitespace_only_name_is_invalid_in_the_schema_and_in_the_api(api, keys, name):
    doc = await document(api)
    assert not body_validator(doc, "/api/teams").is_valid({"name": name})
    response = await api.post("/api/teams", json={"name": name}, headers=bearer(keys["alice_admin"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "name"


@pytest.mark.parametrize("email", ["dev@example.com", "  dev2@example.com ", "a\x1eb@example.com", "no-at-sign",
                                   "x@y", "two@@example.com", "me@localhost"])
async def test_the_schemas_e_mail_rule_is_the_services(api, keys, email):
    """Whitespace is spelled out in the pattern: \\s means three different things in ECMA (schema
    readers), Rust (pydantic) and Python (the service)."""
    schema_valid = body_validator(await document(api), "/api/users").is_valid({"email": email})
    response = await api.post("/api/users", json={"email": email}, headers=bearer(keys["alice_admin"]))
    assert response.status_code == (201 if schema_valid else 422), (email, response.text)


@pytest.mark.parametrize("body, field", [
    ({"session_id": "s", "productivity_score": False}, "productivity_score"),
    ({"session_id": "s", "timestamp": "0"}, "timestamp"),
])
async def test_legacy_bodies_take_json_types_and_iso_times(api, keys, body, field):
    response = await api.post("/api/v1/hooks/productivity-data", json=body, headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == field


async def test_a_legacy_auth_token_of_any_type_is_documented_and_dropped(api, keys):
    doc = await document(api)
    body = {"tool_name": "Read", "auth_token": 12345, "timestamp": "2025-09-15T09:20:31-05:00"}
    assert body_validator(doc, "/api/v1/hooks/tool-metrics").is_valid(body)
    response = await api.post("/api/v1/hooks/tool-metrics", json=body, headers=bearer(keys["alice"]))
    assert response.status_code == 201 and "12345" not in response.text


async def test_a_user_change_takes_json_booleans(api, keys, people):
    response = await api.put(f"/api/users/{people.bob.user_id}", json={"active": 0}, headers=bearer(keys["alice_admin"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "active"


async def test_the_collect_schema_says_command_or_agent_name(api):
    validator = body_validator(await document(api), "/mcp/metrics/collect")
    assert not validator.is_valid({"success": True}) and not validator.is_valid({"command": None, "agent_name": ""})
    assert validator.is_valid({"command": "/plan"}) and validator.is_valid({"agent_name": "reviewer"})


async def test_statuses_the_handlers_give_are_documented(api):
    doc = await document(api)
    assert "401" in doc["paths"]["/api/auth/logout"]["post"]["responses"]
    hook = doc["paths"]["/api/v1/hooks/claude-code"]["post"]
    assert {"204", "401", "422"} <= set(hook["responses"]) and not hook.get("x-undocumented")


async def test_batch_items_that_are_no_event_are_documented_as_reported_not_refused(api, keys):
    validator = body_validator(await document(api), "/api/v1/metrics/batch")
    body = {"events": [{"type": "raw"}, 5]}
    assert validator.is_valid(body)
    response = await api.post("/api/v1/metrics/batch", json=body, headers=bearer(keys["alice"]))
    assert response.status_code == 200 and response.json()["rejected"] == 2


def test_the_space_class_is_pythons_whitespace():
    from fortium_metrics.validation import SPACE_CLASS

    spaces = re.compile(f"[{SPACE_CLASS}]")
    assert all(bool(spaces.match(chr(c))) == chr(c).isspace() for c in range(0x110000))


async def test_an_analytics_query_breaking_the_querys_own_rules_names_the_parameter(api, keys):
    """`measures=` (no measure at all) was a ValidationError out of the handler: a 500."""
    response = await api.get("/api/v1/analytics?measures=", headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "measures"


async def test_an_analytics_answer_in_csv_is_documented_as_such(api, keys):
    doc = await document(api)
    assert set(doc["paths"]["/api/v1/analytics"]["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    response = await api.get("/api/v1/analytics?measures=sessions&format=csv", headers=bearer(keys["alice"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")


async def test_a_teams_comparison_without_a_measure_names_the_parameter(api, keys):
    """The service's query model refused it (a ValidationError out of the handler: a 500)."""
    response = await api.get("/api/v1/analytics/teams?measures=", headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "measures", response.text
