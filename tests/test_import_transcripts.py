"""The Claude Code transcript importer against tests/fixtures/transcripts and tests/fixtures/EXPECTED.md §2:
the parser alone, end to end into SQLite and PostgreSQL, and through the CLI."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from fortium_metrics.events import event_adapter
from fortium_metrics.importers.base import ParseStats
from fortium_metrics.importers.runner import run_import
from fortium_metrics.importers.transcripts import TranscriptParser
from fortium_metrics.importers.transcripts_prices import PriceTable
from fortium_metrics.store.models import AgentSession, MetricEvent
from fixture_paths import TRANSCRIPTS

S1 = "3c1f9a52-6d0e-4b8a-9f3e-2a7b5c8d9e01"
S2 = "7e2d4b18-0c5a-4f3e-a9d2-5b6c7d8e9f10"
FILE1 = TRANSCRIPTS / "-Users-jdoe-src-web-app" / f"{S1}.jsonl"
FILE2 = TRANSCRIPTS / "-Users-jdoe-src-payments-api" / f"{S2}.jsonl"
SUBFILE2 = TRANSCRIPTS / "-Users-jdoe-src-payments-api" / S2 / "subagents" / "agent-a3f9c2e1.jsonl"
TOKENS = ("input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens")


def parse(paths, parser: TranscriptParser | None = None):
    parser = parser or TranscriptParser(home=Path("/nonexistent"))
    stats = ParseStats()
    files = parser.discover([Path(p) for p in paths])
    items = list(parser.parse(files, stats))
    events = [i.event for i in items if i.event is not None]
    errors = [i.error for i in items if i.error is not None]
    return events, errors, stats, files


@pytest.fixture(scope="module")
def sample():
    events, errors, stats, files = parse([TRANSCRIPTS])
    assert errors == []
    return events, stats


def _of(events, kind, session=None):
    return [e for e in events if e["type"] == kind and (session is None or e["session_id"] == session)]


def _sum(requests, field):
    return sum(r[field] for r in requests)


# ---- §2.1 per session -------------------------------------------------------------------------

EXPECTED = {
    S1: dict(cwd="/Users/jdoe/src/web-app", project="web-app", branch="feature/login", version="1.0.98",
             first="2025-08-28T14:00:00.000Z", last="2025-08-28T14:01:07.300Z", prompts=1, requests=(7, 2),
             main=dict(input_tokens=38, output_tokens=1368, cache_write_5m_tokens=11220, cache_write_1h_tokens=0,
                       cache_read_tokens=135800, cost=0.103449, model="claude-sonnet-4-20250514"),
             sub=dict(input_tokens=21, output_tokens=200, cache_write_5m_tokens=4310, cache_write_1h_tokens=0,
                      cache_read_tokens=3900, cost=0.005439, model="claude-3-5-haiku-20241022"),
             total=dict(input_tokens=59, output_tokens=1568, cache_write_5m_tokens=15530, cache_write_1h_tokens=0,
                        cache_read_tokens=139700, cost=0.108888),
             tools=Counter(Read=1, Write=1, Bash=2, Task=1, Edit=1, Grep=1), sub_tools=Counter(Grep=1), failed=["Bash"],
             agent="helper-finder"),
    S2: dict(cwd="/Users/jdoe/src/payments-api", project="payments-api", branch="fix/refund-500", version="2.1.90",
             first="2026-01-14T09:30:00.000Z", last="2026-01-14T09:32:02.700Z", prompts=3, requests=(7, 2),
             main=dict(input_tokens=34, output_tokens=920, cache_write_5m_tokens=1440, cache_write_1h_tokens=14380,
                       cache_read_tokens=177890, cost=0.158949, model="claude-sonnet-4-5-20250929"),
             sub=dict(input_tokens=18, output_tokens=254, cache_write_5m_tokens=6500, cache_write_1h_tokens=0,
                      cache_read_tokens=5200, cost=0.009933, model="claude-haiku-4-5-20251001"),
             total=dict(input_tokens=52, output_tokens=1174, cache_write_5m_tokens=7940, cache_write_1h_tokens=14380,
                        cache_read_tokens=183090, cost=0.168882),
             tools=Counter(Grep=1, Agent=1, Edit=1, Bash=2, Read=1), sub_tools=Counter(Read=1), failed=[],
             agent="Explore"),
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("session", [S1, S2])
def test_session_totals_match_expected(sample, session):
    events, _ = sample
    want = EXPECTED[session]
    requests = _of(events, "api_request", session)
    main = [r for r in requests if r["agent"] is None]
    sub = [r for r in requests if r["agent"] is not None]
    assert (len(main), len(sub)) == want["requests"]
    for part, rows in (("main", main), ("sub", sub), ("total", requests)):
        for field in TOKENS:
            # EXPECTED.md counts writes without a 5m/1h split as 5m; we keep them apart (priced as 5m).
            extra = _sum(rows, "cache_write_unsplit_tokens") if field == "cache_write_5m_tokens" else 0
            assert _sum(rows, field) + extra == want[part][field], (part, field)
        assert round(_sum(rows, "cost_usd"), 6) == want[part]["cost"], part
    assert {r["model"] for r in main} == {want["main"]["model"]}
    assert {r["model"] for r in sub} == {want["sub"]["model"]}
    assert {r["agent"] for r in sub} == {want["agent"]}
    assert all(r["attributes"]["subagent"] for r in sub) and not any("subagent" in r["attributes"] for r in main)
    assert len(_of(events, "prompt", session)) == want["prompts"]
    tools = _of(events, "tool_execution", session)
    assert Counter(t["tool_name"] for t in tools) == want["tools"]
    assert Counter(t["tool_name"] for t in tools if t["attributes"].get("subagent")) == want["sub_tools"]
    assert [t["tool_name"] for t in tools if t["success"] is False] == want["failed"]
    assert all(t["success"] is not None for t in tools)
    (start,), (end,) = _of(events, "session_start", session), _of(events, "session_end", session)
    assert (start["timestamp"], end["timestamp"]) == (_ts(want["first"]), _ts(want["last"]))
    for event in _of(events, "session_start", session) + requests + tools:
        assert event["project"] == want["project"]
        assert (event["attributes"]["branch"], event["attributes"]["version"]) == (want["branch"], want["version"])
    assert start["attributes"]["cwd"] == want["cwd"]


def test_both_sessions_together(sample):
    events, stats = sample
    requests = _of(events, "api_request")
    assert len(_of(events, "session_start")) == len(_of(events, "session_end")) == 2
    assert len(_of(events, "prompt")) == 4 and len(requests) == 18
    assert [_sum(requests, f) for f in TOKENS] == [111, 2742, 7940, 14380, 322790]
    assert _sum(requests, "cache_write_unsplit_tokens") == 15530  # S1 (1.0.98) has no split
    assert round(_sum(requests, "cost_usd"), 6) == 0.277770
    tools = _of(events, "tool_execution")
    assert len(tools) == 13 and sum(t["success"] is False for t in tools) == 1
    assert stats.records_read == 51
    assert stats.counters["api_errors"] == 1
    assert stats.counters["streaming_chunks_collapsed"] == 10
    assert stats.counters["interrupted_requests"] == 1
    assert stats.counters.get("unknown_model", 0) == 0


def test_every_event_is_valid_and_ids_are_deterministic(sample):
    events, _ = sample
    for event in events:
        event_adapter.validate_python(event)
    again, *_ = parse([TRANSCRIPTS])
    assert [e.get("event_id") for e in again] == [e.get("event_id") for e in events]
    non_request_ids = [e["event_id"] for e in events if e["type"] not in ("api_request",)]
    assert len(set(non_request_ids)) == len(non_request_ids)


def test_no_prompt_or_tool_text_is_kept(sample):
    events, _ = sample
    dumped = json.dumps([event_adapter.validate_python(e).model_dump(mode="json") for e in events])
    for secret in ("Add a failing test for the login form", "The refund endpoint returns 500", "continue\"",
                   "Keep the existing RefundError", "Trace how POST /refunds", "npm test", "validateEmail"):
        assert secret not in dumped
    lengths = sorted(p["prompt_length"] for p in _of(events, "prompt"))
    assert lengths == sorted([len("Add a failing test for the login form email validation, then fix the form so it passes."),
                              len("The refund endpoint returns 500 for partial refunds. Find the cause, fix it and commit."),
                              len("continue"), len("Keep the existing RefundError class; just fix the rounding.")])


# ---- §2.3 per request ---------------------------------------------------------------------------

REQUESTS = [  # session, requestId, agent?, model, lines, stop_reason, in, out, w5m, w1h, read, cost
    (S1, "req_011CrxX18D0yir8cLV8SLjVn", False, "claude-sonnet-4-20250514", 2, "tool_use", 4, 87, 6120, 0, 11850, 0.027822),
    (S1, "req_011CvTYQrEo5E23cr5uHupJR", False, "claude-sonnet-4-20250514", 2, "tool_use", 6, 640, 1450, 0, 17970, 0.020446),
    (S1, "req_011CAacy8lnWH7kMwKB5uQgt", False, "claude-sonnet-4-20250514", 1, "tool_use", 6, 74, 820, 0, 19420, 0.010029),
    (S1, "req_011CgiXNupLjZGIQzLeHQtQn", False, "claude-sonnet-4-20250514", 2, "tool_use", 6, 131, 930, 0, 20240, 0.011543),
    (S1, "req_011CM4CKZXmK2HtnVfoUDWq9", True, "claude-3-5-haiku-20241022", 2, "tool_use", 12, 58, 3900, 0, 0, 0.004142),
    (S1, "req_011Cfl4Esqpo2UNN615yDO6h", True, "claude-3-5-haiku-20241022", 1, "end_turn", 9, 142, 410, 0, 3900, 0.001297),
    (S1, "req_011CJPKTCggNETBsQJi9zVdL", False, "claude-sonnet-4-20250514", 2, "tool_use", 6, 212, 1210, 0, 21170, 0.014087),
    (S1, "req_011CiYA8f86nkSNQ56E95K1g", False, "claude-sonnet-4-20250514", 1, "tool_use", 6, 69, 390, 0, 22380, 0.009229),
    (S1, "req_011CmXw565xIS5p2hxMedIxF", False, "claude-sonnet-4-20250514", 1, "end_turn", 4, 155, 300, 0, 22770, 0.010293),
    (S2, "req_011CjzxECuFvAU5NF7yNxnjr", False, "claude-sonnet-4-5-20250929", 3, "tool_use", 3, 171, 800, 9000, 14320, 0.063870),
    (S2, "req_011C96AJi8oSOUyNQnO0B8ie", False, "claude-sonnet-4-5-20250929", 1, "tool_use", 5, 140, 0, 610, 24120, 0.013011),
    (S2, "req_011Cw5ylVHi1TyG2fsIVr3Rz", True, "claude-haiku-4-5-20251001", 2, "tool_use", 10, 66, 5200, 0, 0, 0.006840),
    (S2, "req_011Czl8nXnoJDlSbLaSoGm5q", True, "claude-haiku-4-5-20251001", 1, "end_turn", 8, 188, 1300, 0, 5200, 0.003093),
    (S2, "req_011C1MaUuqbTV7mMgQI1aCVp", False, "claude-sonnet-4-5-20250929", 2, None, 4, 9, 0, 2100, 24730, 0.020166),
    (S2, "req_011CLCa3alDj7B06XWYleKns", False, "claude-sonnet-4-5-20250929", 2, "tool_use", 6, 298, 0, 1900, 26830, 0.023937),
    (S2, "req_011C19gRX5U78wXiympQmazj", False, "claude-sonnet-4-5-20250929", 1, "tool_use", 6, 81, 640, 0, 28730, 0.012252),
    (S2, "req_011CejXLZbQXv98KPehTPqad", False, "claude-sonnet-4-5-20250929", 1, "tool_use", 6, 95, 0, 420, 29370, 0.012774),
    (S2, "req_011CuQXcVYuVk0uURBAKH6mz", False, "claude-sonnet-4-5-20250929", 1, "end_turn", 4, 126, 0, 350, 29790, 0.012939),
]


@pytest.mark.parametrize("row", REQUESTS, ids=[r[1] for r in REQUESTS])
def test_each_request_keeps_its_final_chunk(sample, row):
    session, request_id, is_sub, model, lines, stop, *numbers, cost = row
    events, _ = sample
    (request,) = [r for r in _of(events, "api_request") if r["request_id"] == request_id]
    assert request["session_id"] == session and (request["agent"] is not None) == is_sub
    assert request["model"] == model
    assert request["attributes"]["chunks"] == lines
    assert request["attributes"].get("stop_reason") == stop
    assert request["attributes"].get("interrupted", False) == (stop is None)
    five_minute = request["cache_write_5m_tokens"] + request["cache_write_unsplit_tokens"]  # EXPECTED.md: unsplit = 5m
    assert [five_minute if f == "cache_write_5m_tokens" else request[f] for f in TOKENS] == numbers
    assert request["cache_write_unsplit_tokens"] == (numbers[2] if session == S1 else 0)  # S1 (1.0.98): no split
    assert round(request["cost_usd"], 6) == cost
    assert request["attributes"]["price_version"] and request["attributes"]["service_tier"] == "standard"


def test_requests_are_exactly_the_expected_ones(sample):
    events, _ = sample
    assert sorted(r["request_id"] for r in _of(events, "api_request")) == sorted(r[1] for r in REQUESTS)


# ---- §2.2 the wrong rules -----------------------------------------------------------------------

def _usage_lines(session_files):
    """Every usage-bearing assistant line of the files, in order (an independent reading)."""
    rows = []
    for path in session_files:
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            if line.get("type") == "assistant" and line["message"].get("model") != "<synthetic>":
                rows.append(line)
    return rows


@pytest.mark.parametrize("session, files, first_chunk, all_lines, all_input, all_read", [
    (S1, [FILE1], 454, 1582, 93, 210930),
    (S2, [FILE2, SUBFILE2], 649, 1201, 78, 263290),
])
def test_the_wrong_rules_give_other_numbers_than_ours(sample, session, files, first_chunk, all_lines, all_input, all_read):
    events, _ = sample
    lines = _usage_lines(files)
    first_seen = {}
    for line in lines:
        first_seen.setdefault(line["requestId"], line)
    # the wrong rules, computed independently, really give the §2.2 numbers ...
    assert sum(l["message"]["usage"]["output_tokens"] for l in first_seen.values()) == first_chunk
    assert sum(l["message"]["usage"]["output_tokens"] for l in lines) == all_lines
    assert sum(l["message"]["usage"]["input_tokens"] for l in lines) == all_input
    assert sum(l["message"]["usage"]["cache_read_input_tokens"] for l in lines) == all_read
    # ... and we produce none of them
    requests = _of(events, "api_request", session)
    ours = (_sum(requests, "output_tokens"), _sum(requests, "input_tokens"), _sum(requests, "cache_read_tokens"))
    assert ours[0] not in (first_chunk, all_lines) and ours[1] != all_input and ours[2] != all_read
    assert ours[0] == EXPECTED[session]["total"]["output_tokens"]


def test_one_hour_writes_are_not_priced_as_five_minute_writes(sample):
    events, _ = sample
    prices = PriceTable.load()
    wrong = 0.0
    for r in _of(events, "api_request", S2):
        price, _ = prices.lookup(r["model"], date(2026, 1, 14))
        wrong += price.cost(r["input_tokens"], r["output_tokens"], r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"],
                            0, r["cache_read_tokens"])
    ours = _sum(_of(events, "api_request", S2), "cost_usd")
    assert round(wrong, 6) == 0.136527
    assert round(ours - wrong, 6) == 0.032355 and round(ours, 6) == 0.168882


# ---- rules on small synthetic files -------------------------------------------------------------

def _line(**fields) -> str:
    base = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/w/proj", "sessionId": "s-1",
            "version": "2.1.0", "gitBranch": "main", "timestamp": "2026-01-01T00:00:00.000Z"}
    return json.dumps({**base, **fields})


def _assistant(uuid, request_id, out, stop, model="claude-sonnet-4-5-20250929", ts="2026-01-01T00:00:01.000Z",
               content=None, **usage):
    message = {"id": f"msg_{request_id}", "model": model, "stop_reason": stop,
               "content": content or [{"type": "text", "text": "x"}],
               "usage": {"input_tokens": 4, "cache_creation_input_tokens": 6120, "cache_read_input_tokens": 11850,
                         "output_tokens": out, **usage}}
    return _line(type="assistant", uuid=uuid, requestId=request_id, message=message, timestamp=ts)


def test_the_doc_example_gives_87_and_an_interrupted_stream_keeps_its_largest_chunk(tmp_path):
    path = tmp_path / "s-1.jsonl"
    path.write_text("\n".join([
        _assistant("u1", "req_A", 3, None),
        _assistant("u2", "req_A", 87, "tool_use"),
        _assistant("u3", "req_B", 2, None), _assistant("u4", "req_B", 11, None), _assistant("u5", "req_B", 5, None),
        _assistant("u6", "req_C", 9, "end_turn"), _assistant("u7", "req_C", 1, None),
    ]) + "\n")
    events, errors, stats, _ = parse([path])
    requests = {r["request_id"]: r for r in _of(events, "api_request")}
    assert errors == [] and requests["req_A"]["output_tokens"] == 87 and requests["req_A"]["input_tokens"] == 4
    assert requests["req_B"]["output_tokens"] == 11 and requests["req_B"]["attributes"]["interrupted"]
    assert requests["req_C"]["output_tokens"] == 9  # a line with stop_reason beats a later one without
    assert requests["req_A"]["cost_usd"] == pytest.approx(0.027822)  # no cache split: priced as 5-minute writes
    assert (requests["req_A"]["cache_write_unsplit_tokens"], requests["req_A"]["cache_write_5m_tokens"]) == (6120, 0)
    assert stats.counters["streaming_chunks_collapsed"] == 4


def test_a_split_cache_write_is_not_unsplit_and_a_synthetic_line_is_an_api_error(tmp_path):
    path = tmp_path / "s-1.jsonl"
    split = {"ephemeral_5m_input_tokens": 120, "ephemeral_1h_input_tokens": 6000}
    synthetic = json.loads(_assistant("u9", "x", 0, "stop_sequence", model="<synthetic>",
                                      content=[{"type": "text", "text": "API Error: 500 Internal server error"}]))
    del synthetic["requestId"]
    synthetic.update(isApiErrorMessage=True, timestamp="2026-01-01T00:00:05.000Z")
    synthetic["message"]["usage"] = {"input_tokens": 0, "output_tokens": 0}
    path.write_text(_assistant("u1", "req_A", 87, "end_turn", cache_creation=split) + "\n" + json.dumps(synthetic) + "\n")
    events, errors, stats, _ = parse([path])
    (request,) = _of(events, "api_request")
    assert (request["cache_write_5m_tokens"], request["cache_write_1h_tokens"], request["cache_write_unsplit_tokens"]) == (
        120, 6000, 0)
    (error,) = _of(events, "api_error")
    assert (error["status_code"], error["error"], error["model"], error["session_id"]) == (
        500, "API Error: 500 Internal server error", None, "s-1")
    assert error["attributes"]["synthetic"] and error["timestamp"] == _ts("2026-01-01T00:00:05.000Z")
    assert errors == [] and stats.counters["api_errors"] == 1
    event_adapter.validate_python(error)


def test_groups_without_request_id_fall_back_to_message_id_then_the_line(tmp_path):
    lines = [json.loads(_assistant(f"u{i}", "x", out, stop)) for i, (out, stop) in enumerate([(3, None), (50, "end_turn"), (7, "end_turn")])]
    for line in lines:
        del line["requestId"]
    del lines[2]["message"]["id"]
    path = tmp_path / "s-1.jsonl"
    path.write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    events, *_ = parse([path])
    requests = _of(events, "api_request")
    assert sorted(r["output_tokens"] for r in requests) == [7, 50]
    assert all(r["request_id"] is None and r["event_id"] for r in requests)


def test_a_malformed_line_is_reported_with_file_and_line_and_the_rest_still_counts(tmp_path):
    path = tmp_path / f"{S1}.jsonl"
    lines = FILE1.read_text().splitlines()
    lines.insert(5, '{"type":"assistant","message":{"id":"msg_trunc')  # truncated JSON
    lines.insert(8, '[1, 2]')
    lines.insert(10, _line(type="user", message={"role": "user", "content": "hi"}, timestamp="yesterday"))
    lines.append("\x00\x01 binary garbage")
    path.write_text("\n".join(lines) + "\n")
    events, errors, stats, _ = parse([path])
    assert [(e.source, e.line) for e in errors] == [(str(path), 6), (str(path), 9), (str(path), 11), (str(path), len(lines))]
    assert errors[0].reason.startswith("not JSON") and "timestamp" in errors[2].reason
    assert stats.counters["malformed_lines"] == 4
    requests = _of(events, "api_request")
    assert _sum(requests, "output_tokens") == 1568 and round(_sum(requests, "cost_usd"), 6) == 0.108888


def test_unknown_models_get_no_cost_and_are_counted(tmp_path):
    path = tmp_path / "s-1.jsonl"
    path.write_text("\n".join([_assistant("u1", "req_1", 5, "end_turn", model="claude-opus-4-6"),
                               _assistant("u2", "req_2", 5, "end_turn", model="gpt-5"),
                               _assistant("u3", "req_3", 5, "end_turn", model="claude-opus-4-20250514")]) + "\n")
    events, _, stats, _ = parse([path])
    costs = {r["model"]: r["cost_usd"] for r in _of(events, "api_request")}
    assert costs["claude-opus-4-6"] is None and costs["gpt-5"] is None
    assert costs["claude-opus-4-20250514"] == pytest.approx((4 * 15 + 5 * 75 + 6120 * 18.75 + 11850 * 1.5) / 1e6)
    assert stats.counters["unknown_model"] == 2


def test_price_table_is_package_data_with_longest_prefix_and_dated_versions():
    prices = PriceTable.load()
    day = date(2026, 1, 1)
    assert prices.lookup("claude-sonnet-4-5-20250929", day)[0].cache_write_1h == 6.0
    assert prices.lookup("claude-sonnet-4-20250514", day)[0].input == 3.0
    assert prices.lookup("claude-opus-4-5-20251101", day)[0].output == 25.0
    assert prices.lookup("claude-opus-4-1-20250805", day)[0].output == 75.0
    assert prices.lookup("claude-3-haiku-20240307", day)[0].input == 0.25
    assert prices.lookup("claude-3-5-haiku-latest", day)[0].input == 0.80
    assert prices.lookup("claude-opus-4-6", day)[0] is None and prices.lookup(None, day)[0] is None
    two = PriceTable({"versions": [
        {"version": "old", "effective_from": "2025-01-01", "models": {"m": dict(input=1, output=1, cache_write_5m=1, cache_write_1h=1, cache_read=1)}},
        {"version": "new", "effective_from": "2025-06-01", "models": {"m": dict(input=2, output=2, cache_write_5m=2, cache_write_1h=2, cache_read=2)}},
    ]})
    assert [two.lookup("m", date(y, mo, 1))[1] for y, mo in ((2024, 1), (2025, 5), (2025, 6), (2026, 1))] == ["old", "old", "new", "new"]
    assert two.lookup("m-20250101", date(2025, 7, 1))[0].cost(1_000_000, 0, 0, 0, 0) == 2.0


def test_tool_outcomes_durations_and_unanswered_calls(tmp_path):
    use = [{"type": "tool_use", "id": "toolu_1", "name": "mcp__github__create_issue", "input": {}},
           {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "rm -rf /"}}]
    result = _line(type="user", uuid="u9", timestamp="2026-01-01T00:00:03.500Z", message={"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]})
    path = tmp_path / "s-1.jsonl"
    path.write_text("\n".join([_assistant("u1", "req_1", 5, "tool_use", content=use), result]) + "\n")
    events, _, stats, _ = parse([path])
    tools = {t["tool_name"]: t for t in _of(events, "tool_execution")}
    assert tools["mcp__github__create_issue"]["success"] is True
    assert tools["mcp__github__create_issue"]["duration_ms"] == 2500
    assert tools["mcp__github__create_issue"]["attributes"]["mcp_server"] == "github"
    assert tools["Bash"]["success"] is None and tools["Bash"]["attributes"]["outcome"] == "no_result"
    assert stats.counters["tool_without_result"] == 1
    assert _of(events, "prompt") == []  # tool results are not prompts


def test_prompt_counting_excludes_meta_compact_summaries_and_interruptions(tmp_path):
    user = lambda content, **kw: _line(type="user", uuid=f"u{len(content)}{len(kw)}", message={"role": "user", "content": content}, **kw)
    path = tmp_path / "s-1.jsonl"
    path.write_text("\n".join([
        user("typed"), user([{"type": "text", "text": "typed as blocks"}]), user("injected", isMeta=True),
        user("summary after compaction", isCompactSummary=True), user("[Request interrupted by user for tool use]"),
        user("subagent prompt", isSidechain=True), user([{"type": "image", "source": {}}]),
    ]) + "\n")
    events, _, stats, _ = parse([path])
    assert sorted(p["prompt_length"] for p in _of(events, "prompt")) == [5, 15]
    assert stats.counters["interruptions"] == 1


def test_a_file_with_lines_of_two_sessions_gives_each_its_own_span(tmp_path):
    path = tmp_path / "s-2.jsonl"  # e.g. a continued conversation that repeats the earlier session's lines
    path.write_text("\n".join([
        _line(type="user", uuid="a1", sessionId="s-1", timestamp="2026-01-01T10:00:00.000Z", message={"role": "user", "content": "a"}),
        _line(type="user", uuid="a2", sessionId="s-1", timestamp="2026-01-01T10:05:00.000Z", message={"role": "user", "content": "b"}),
        _line(type="user", uuid="b1", sessionId="s-2", timestamp="2026-01-02T09:00:00.000Z", message={"role": "user", "content": "c"}),
        _line(type="user", uuid="b2", sessionId="s-2", timestamp="2026-01-02T09:30:00.000Z", message={"role": "user", "content": "d"}),
    ]) + "\n")
    events, *_ = parse([path])
    spans = {s["session_id"]: s["timestamp"].isoformat() for s in _of(events, "session_start")}
    ends = {s["session_id"]: s["timestamp"].isoformat() for s in _of(events, "session_end")}
    assert spans == {"s-1": "2026-01-01T10:00:00+00:00", "s-2": "2026-01-02T09:00:00+00:00"}
    assert ends == {"s-1": "2026-01-01T10:05:00+00:00", "s-2": "2026-01-02T09:30:00+00:00"}


# ---- discovery ------------------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(TRANSCRIPTS, home / ".claude" / "projects")
    (home / ".claude" / "history.jsonl").write_text("{}\n")
    return home


def test_discover_default_root_project_dir_and_session_file(home, tmp_path):
    parser = TranscriptParser(home=home, env={})
    projects = home / ".claude" / "projects"
    names = lambda files: sorted(f.name for f in files)
    everything = [f"{S1}.jsonl", f"{S2}.jsonl", "agent-a3f9c2e1.jsonl"]
    assert names(parser.discover([])) == everything
    assert names(parser.discover([home / ".claude"])) == everything  # history.jsonl is not a transcript
    assert names(parser.discover([projects / "-Users-jdoe-src-payments-api"])) == [f"{S2}.jsonl", "agent-a3f9c2e1.jsonl"]
    assert names(parser.discover([projects / "-Users-jdoe-src-payments-api" / f"{S2}.jsonl"])) == [f"{S2}.jsonl", "agent-a3f9c2e1.jsonl"]
    assert parser.discover([])[-1].name == "agent-a3f9c2e1.jsonl"  # subagent files after session files
    other = tmp_path / "elsewhere"
    shutil.copytree(projects / "-Users-jdoe-src-web-app", other / "projects" / "p")
    moved = TranscriptParser(home=tmp_path / "empty", env={"CLAUDE_CONFIG_DIR": str(other)})
    assert names(moved.discover([])) == [f"{S1}.jsonl"]
    assert TranscriptParser(home=tmp_path / "empty", env={}).discover([]) == []


def test_a_subagent_file_alone_is_attributed_via_its_session_file_and_adds_no_session(home):
    events, errors, stats, _ = parse([home / ".claude" / "projects" / "-Users-jdoe-src-payments-api" / S2 / "subagents"])
    requests = _of(events, "api_request")
    assert errors == [] and {r["agent"] for r in requests} == {"Explore"}
    assert {r["attributes"]["agent_id"] for r in requests} == {"a3f9c2e1"}
    assert {r["session_id"] for r in requests} == {S2}
    assert _of(events, "session_start") == [] and _of(events, "prompt") == []


def test_a_beside_layout_agent_file_is_a_subagent(tmp_path):
    path = tmp_path / "agent-1f2e3d4c.jsonl"
    path.write_text(_assistant("u1", "req_1", 5, "end_turn", model="claude-haiku-4-5-20251001") + "\n")
    events, *_ = parse([path])
    (request,) = _of(events, "api_request")
    assert request["agent"] == "1f2e3d4c" and request["attributes"]["subagent"]


# ---- end to end -------------------------------------------------------------------------------------


async def _stored(store, people) -> dict:
    async with store.unit_of_work(people.alice) as uow:
        rows = (await uow.session.execute(select(MetricEvent))).scalars().all()
        sessions = (await uow.session.execute(select(AgentSession))).scalars().all()
    requests = [r for r in rows if r.kind == "api_request"]
    by_session = defaultdict(lambda: defaultdict(float))
    for r in requests:
        d = by_session[r.session_id]
        d["input"] += r.input_tokens
        d["output"] += r.output_tokens
        d["read"] += r.cache_read_tokens
        d["write"] += r.cache_write_tokens
        d["w5m"] += r.cache_write_5m_tokens
        d["w1h"] += r.cache_write_1h_tokens
        d["unsplit"] += r.attributes["cache_write_unsplit_tokens"]  # kept in attributes (no column)
        d["cost"] += r.cost_usd
    return {
        "rows": len(rows), "requests": len(requests), "kinds": Counter(r.kind for r in rows),
        "failed_tools": sum(r.kind == "tool_execution" and r.success is False for r in rows),
        "api_error": next(((r.attributes["status_code"], r.attributes["error"], r.session_id) for r in rows
                           if r.kind == "api_error"), None),
        "sessions": {s.id: (s.started_at, s.ended_at, s.user_id) for s in sessions},
        "by_session": {k: {f: round(v, 6) for f, v in d.items()} for k, d in by_session.items()},
    }


STORED = {
    S1: dict(input=59, output=1568, read=139700, write=15530, w5m=0, w1h=0, unsplit=15530, cost=0.108888),
    S2: dict(input=52, output=1174, read=183090, write=22320, w5m=7940, w1h=14380, unsplit=0, cost=0.168882),
}


@pytest.mark.anyio
async def test_end_to_end_totals_and_idempotency(store, people, sink, tmp_path):
    root = tmp_path / "projects"
    shutil.copytree(TRANSCRIPTS, root)
    first = await run_import(TranscriptParser(home=tmp_path), [root], sink, user="alice@a.test", show_progress=False)
    assert (first.files, first.records_read, first.imported, first.duplicates, first.rejected) == (3, 51, 40, 0, 0)
    # 51 lines: a summary and a file-history-snapshot line ignored; the 49 user and assistant lines
    # imported (streamed chunks went into their request)
    assert (first.records_imported, first.records_ignored, first.records_duplicates) == (49, 2, 0)
    stored = await _stored(store, people)
    assert stored["requests"] == 18 and stored["by_session"] == STORED
    assert stored["kinds"] == Counter(api_request=18, tool_execution=13, prompt=4, api_error=1)
    assert stored["api_error"] == (
        529, 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', S2)
    assert stored["failed_tools"] == 1
    assert stored["sessions"] == {
        S1: (_ts("2025-08-28T14:00:00.000Z"), _ts("2025-08-28T14:01:07.300Z"), people.alice.user_id),
        S2: (_ts("2026-01-14T09:30:00.000Z"), _ts("2026-01-14T09:32:02.700Z"), people.alice.user_id)}
    second = await run_import(TranscriptParser(home=tmp_path), [root], sink, user="alice@a.test", show_progress=False)
    assert (second.skipped_files, second.imported, second.records_read) == (3, 0, 0)
    for path in root.rglob("*.jsonl"):  # changed fingerprints: everything is read again, nothing added
        os.utime(path, (1_800_000_000, 1_800_000_000))
    third = await run_import(TranscriptParser(home=tmp_path), [root], sink, user="alice@a.test", show_progress=False)
    assert (third.skipped_files, third.records_read, third.imported, third.duplicates) == (0, 51, 0, 40)
    assert await _stored(store, people) == stored


@pytest.mark.anyio
async def test_a_resumed_copy_in_another_file_adds_no_requests_and_errors_name_the_line(store, people, sink, tmp_path):
    root = tmp_path / "projects" / "-Users-jdoe-src-web-app"
    root.mkdir(parents=True)
    shutil.copy(FILE1, root / FILE1.name)
    resumed = root / "0a0a0a0a-0000-4000-8000-000000000000.jsonl"  # a continued conversation repeats old lines
    resumed.write_text(FILE1.read_text() + "{oops\n")
    report = await run_import(TranscriptParser(home=tmp_path), [root.parent], sink, user="alice@a.test", show_progress=False)
    assert [(e.source, e.line) for e in report.errors] == [(str(resumed), 25)]
    assert report.rejected == 1
    stored = await _stored(store, people)
    assert stored["requests"] == 9 and stored["by_session"] == {S1: STORED[S1]}


def test_cli_imports_and_reports_json(tmp_path, monkeypatch):
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path / "data"))
    for name in ("FORTIUM_DATABASE_URL", "FORTIUM_ADMIN_DATABASE_URL", "FORTIUM_API_URL", "FORTIUM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    from fortium_metrics.cli import main

    runner = CliRunner()
    args = ["import", "transcripts", str(TRANSCRIPTS), "--json", "--no-progress"]
    first = runner.invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout[first.stdout.index("{"):])
    assert (report["importer"], report["files"], report["records_read"], report["events_imported"],
            report["records_rejected"], report["events_rejected"]) == ("transcripts", 3, 51, 40, 0, 0)
    assert report["counters"]["api_requests"] == 18 and report["counters"]["api_errors"] == 1
    again = json.loads((out := runner.invoke(main, args, catch_exceptions=False).stdout)[out.index("{"):])
    assert (again["skipped_files"], again["events_imported"]) == (3, 0)
