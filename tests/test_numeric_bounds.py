"""Every number an event carries has a bound (issue 12, item 4): two accepted `cost_usd: 1.7e308`
made every organisation-wide summary fail (PostgreSQL "value out of range", SQLite a 500). Now
such an item is rejected naming its field, the rest of its batch is stored, and the largest
values allowed still sum to finite answers. Both databases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rest_support import bearer

pytestmark = pytest.mark.anyio
AT = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
HUGE = 1.7e308

OUT_OF_BOUNDS = [
    ({"type": "token_usage", "cost_usd": HUGE}, "cost_usd"),
    ({"type": "api_request", "cost_usd": HUGE}, "cost_usd"),
    ({"type": "api_request", "cost_usd": 1_000_000.01}, "cost_usd"),
    ({"type": "productivity_metric", "metric": "score", "value": HUGE}, "value"),
    ({"type": "productivity_metric", "metric": "score", "value": -HUGE}, "value"),
    ({"type": "raw", "name": "counter", "value": HUGE}, "value"),
    ({"type": "token_usage", "input_tokens": 10**19}, "input_tokens"),
    ({"type": "api_request", "output_tokens": -1}, "output_tokens"),
    ({"type": "tool_execution", "tool_name": "Read", "duration_ms": HUGE}, "duration_ms"),
    ({"type": "code_change", "lines_added": 2**40}, "lines_added"),
    ({"type": "prompt", "prompt_length": 2**40}, "prompt_length"),
    ({"type": "api_error", "status_code": 10**30}, "status_code"),
    ({"type": "api_error", "attempt": -3}, "attempt"),
]


@pytest.mark.parametrize("event, field", OUT_OF_BOUNDS, ids=[f"{e['type']}.{f}" for e, f in OUT_OF_BOUNDS])
async def test_an_out_of_bounds_number_is_rejected_naming_its_field(api, keys, event, field):
    good = {"type": "tool_execution", "tool_name": "Read", "timestamp": AT}
    response = await api.post("/api/v1/metrics/batch", json={"events": [good, {**event, "timestamp": AT}]},
                              headers=bearer(keys["alice"]))
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1 and body["rejected"] == 1, body
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["field"] == field, body


async def test_the_organisations_summaries_survive_an_attempt_and_the_largest_values_sum_finitely(api, keys):
    for who in ("alice", "bob"):
        attempt = await api.post("/api/v1/metrics/token-usage", json={"cost_usd": HUGE, "timestamp": AT},
                                 headers=bearer(keys[who]))
        assert attempt.status_code == 422 and attempt.json()["error"]["field"] == "cost_usd"
    largest = [{"type": "token_usage", "cost_usd": 1_000_000, "input_tokens": 10**10, "output_tokens": 10**10,
                "event_id": f"max-{i}", "timestamp": AT} for i in range(3)]
    largest += [{"type": "productivity_metric", "metric": "score", "value": 1e15, "event_id": f"v-{i}", "timestamp": AT}
                for i in range(3)]
    stored = await api.post("/api/v1/metrics/batch", json={"events": largest}, headers=bearer(keys["alice"]))
    assert stored.json()["accepted"] == 6
    admin = bearer(keys["alice_admin"])
    summary = await api.get("/api/v1/summary?days=2", headers=admin)
    assert summary.status_code == 200 and summary.json()["cost_usd"] == 3_000_000
    assert summary.json()["input_tokens"] == 3 * 10**10
    analytics = await api.get("/api/v1/analytics?measures=cost_usd,output_tokens&group_by=model&days=2", headers=admin)
    assert analytics.status_code == 200, analytics.text
