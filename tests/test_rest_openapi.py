"""The OpenAPI document matches the app: same routes and methods both ways, valid examples."""
from __future__ import annotations

import jsonschema
import pytest
from starlette.routing import Route

from fortium_metrics.web.openapi import DOCUMENTED_PREFIXES, route_methods
from rest_support import bearer

pytestmark = pytest.mark.anyio


def served_operations(app) -> set[tuple[str, str]]:
    return {(route.path_format, method) for route in app.routes
            if isinstance(route, Route) and route.path.startswith(DOCUMENTED_PREFIXES)
            for method in route_methods(route)}


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def examples(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in content.get("examples", {}).items():
                yield path, method, name, content["schema"], example["value"]


async def test_the_document_is_openapi_3_1_and_public(api):
    response = await api.get("/api/v1/openapi.json")
    document = response.json()
    assert response.status_code == 200 and document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


async def test_every_served_route_is_documented_and_every_documented_route_is_served(api, app):
    document = (await api.get("/api/v1/openapi.json")).json()
    served = served_operations(app)
    assert ("/api/v1/metrics/batch", "post") in served and ("/mcp/metrics/collect", "post") in served
    assert served == documented_operations(document)


async def test_every_route_of_the_rest_api_has_its_own_operation(api, app):
    """Routes without an Operation are listed from their docstring (x-undocumented); none of the
    REST API's own modules may rely on that."""
    document = (await api.get("/api/v1/openapi.json")).json()
    endpoints = {route.path_format: route.endpoint for route in app.routes if isinstance(route, Route)}
    ours = {"fortium_metrics.web.api", "fortium_metrics.web.reads", "fortium_metrics.web.legacy",
            "fortium_metrics.web.collect", "fortium_metrics.web.openapi"}
    undocumented = {path for path, item in document["paths"].items() for op in item.values() if op.get("x-undocumented")}
    assert {endpoints[path].__module__ for path in undocumented}.isdisjoint(ours)
    assert len(document["paths"]) - len(undocumented) >= 23


async def test_every_operation_documents_its_responses_and_errors(api):
    document = (await api.get("/api/v1/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("x-undocumented"):
                continue
            codes = set(operation["responses"])
            assert codes & {"200", "201", "204", "302"}, (path, method)
            if operation.get("security") != []:
                assert {"401", "403", "429"} <= codes, (path, method)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= codes and operation["requestBody"]["content"]["application/json"]["examples"]


async def test_query_parameters_are_listed_with_their_constraints(api):
    document = (await api.get("/api/v1/openapi.json")).json()
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/summary"]["get"]["parameters"]}
    assert set(parameters) == {"days", "start", "end", "team", "user", "project"}
    assert parameters["days"]["schema"] | {} == {"default": 7, "maximum": 366, "minimum": 1, "type": "integer"}
    session = document["paths"]["/api/v1/sessions/{session_id}"]["get"]["parameters"]
    assert session == [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}]


async def test_every_request_example_validates_against_its_schema(api):
    document = (await api.get("/api/v1/openapi.json")).json()
    found = list(examples(document))
    assert len(found) >= 20
    for path, method, name, schema, value in found:
        validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
        errors = [error.message for error in validator.iter_errors(value)]
        assert errors == [], (path, method, name, errors)


async def test_every_request_example_is_accepted_by_its_handler(api, keys):
    document = (await api.get("/api/v1/openapi.json")).json()
    for path, method, name, _, value in examples(document):
        if "{" in path or path.startswith("/api/auth/"):
            continue  # need a real object id or real credentials: tests/test_admin_api.py replays them
        response = await api.request(method.upper(), path, json=value, headers=bearer(keys["alice_admin"]))
        assert response.status_code in (200, 201, 204), (path, name, response.text)


async def test_a_wrong_example_would_fail_the_schema(api):
    document = (await api.get("/api/v1/openapi.json")).json()
    schema = document["paths"]["/api/v1/metrics/commands"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    assert not validator.is_valid({"command_name": "/x", "duration_ms": "slow"})
    assert not validator.is_valid({"command_nmae": "/x"})
