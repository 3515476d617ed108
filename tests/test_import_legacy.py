"""The legacy local-metrics importer against tests/fixtures/legacy and the totals of tests/fixtures/EXPECTED.md §1:
the parser alone, end to end into SQLite and PostgreSQL, and through the CLI."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from fortium_metrics.importers.base import ParseStats
from fortium_metrics.importers.legacy import LegacyParser
from fortium_metrics.importers.runner import run_import
from fortium_metrics.store.models import AgentSession, LocalDataMapping, MetricEvent
from fixture_paths import LEGACY


HOME, REPO = LEGACY / "home", LEGACY / "repo"
TOKEN = "deadbeef" * 8
PROFILE_ID = "5c0e2f7a-3b1d-4c8e-9f2a-6d4b8e1c0a77"
G1, G2_SESSION, D = "5176cd3d-8a2e-4c1f-9b7a-2f4e6d8c0a11", "9b1e0d44-2c3a-4f6e-8d0b-5a7c9e1f2a33", "e5a7c3d1-9f24-4b6e-8a13-7c2d9b0f4e58"
OPEN_1, OPEN_2 = "b2c4d6e8-1a3c-4e5f-8a7b-9c0d1e2f3a4b", "c8d9e0f1-2a3b-4c5d-9e6f-7a8b9c0d1e2f"


def parse(*paths: Path, parser: LegacyParser | None = None):
    parser = parser or LegacyParser(home=HOME, cwd=REPO)
    stats = ParseStats()
    items = list(parser.parse(parser.discover(list(paths)), stats))
    return items, stats


@pytest.fixture(scope="module")
def sample():
    items, stats = parse(HOME, REPO)
    events = [i.event for i in items if i.event is not None]
    return events, stats, [i.error for i in items if i.error is not None]


def of(events, kind):
    return [e for e in events if e["type"] == kind]


# --- discovery -----------------------------------------------------------------------------------

def test_discovery_returns_data_files_only(tmp_path):
    files = LegacyParser(home=tmp_path).discover([HOME, REPO])
    names = [str(f.relative_to(LEGACY)) for f in files]
    assert len(names) == 22
    assert names[:4] == ["home/.agent-os/metrics/command-metrics.jsonl", "home/.agent-os/metrics/agent-metrics.jsonl",
                         "home/.agent-os/metrics/tool-metrics.jsonl", "home/.agent-os/metrics/session-metrics.jsonl"]
    assert names[-2:] == ["repo/.agent-os/metrics/data/agent_invocations_2025-09-01.jsonl",
                          "repo/.agent-os/metrics/data/agent_performance_2025-09-01.jsonl"]
    for never in ("productivity-indicators", "baseline", "dashboard-data", "config.json", "migration", "realtime",
                  "archives", ".current-session-id", ".dashboard-active", ".auth-token", "user.json"):
        assert not any(never in n for n in names), never
    assert "home/.agent-os/metrics-backup-python/2025-09-05T18_40_11_902Z/tool-metrics.jsonl" in names
    assert "home/.ai-mesh/metrics/tool-metrics.jsonl" in names


def test_discovery_without_paths_scans_the_home_roots_and_the_repo(tmp_path):
    parser = LegacyParser(home=HOME, cwd=REPO)
    assert parser.discover([]) == LegacyParser(home=tmp_path).discover([HOME, REPO])
    assert LegacyParser(home=tmp_path / "nobody", cwd=tmp_path).discover([]) == []


def test_discovery_accepts_a_metrics_root_a_repo_or_a_single_file(tmp_path):
    parser = LegacyParser(home=tmp_path)
    root = parser.discover([HOME / ".ai-mesh" / "metrics"])
    assert [f.name for f in root] == ["tool-metrics.jsonl"]
    assert len(parser.discover([REPO])) == 2
    single = HOME / ".agent-os" / "metrics" / "command-metrics.jsonl"
    assert parser.discover([single]) == [single]
    assert parser.discover([HOME / ".ai-mesh" / "metrics" / ".auth-token", HOME / ".ai-mesh" / "profile" / "user.json"]) == []
    assert parser.discover([HOME / ".ai-mesh"]) == root
    assert len(parser.discover([HOME / ".agent-os"])) == 19  # the live root and its backup


# --- EXPECTED §1.1 totals --------------------------------------------------------------------------

def test_records_read_and_multiset_max_deduplication():
    _, home = parse(HOME)
    assert home.records_read == 64
    assert home.duplicates == 26
    assert home.records_read - home.duplicates == 38
    _, repo = parse(REPO)
    assert repo.records_read == 8 and repo.duplicates == 0
    assert repo.counters["g0_lines_superseded"] == 2  # 5 invocation lines, 3 invocations


def test_everything_parses_and_the_counters_match(sample):
    _, stats, errors = sample
    assert errors == []
    assert stats.records_read == 72
    counters = stats.counters
    assert counters["pre_skipped"] == 4
    assert counters["post_as_unknown_tool"] == 4
    assert counters["auth_token_dropped"] == 5
    assert counters["flagged_resummaries"] == 1
    assert counters["flagged_non_uuid_session_end"] == 1
    assert counters["g0_performance_joined"] == 2 and counters["g0_orphan_performance_skipped"] == 1
    assert (counters["sessions"], counters["sessions_ended_by_summary"], counters["sessions_open"],
            counters["sessions_ended_by_last_event"]) == (5, 2, 2, 1)


def test_tool_executions(sample):
    tools = of(sample[0], "tool_execution")
    assert len(tools) == 14
    assert Counter(t["tool_name"] for t in tools) == {"Bash": 3, "Read": 2, "Edit": 2, "Task": 2, "Write": 1, "unknown": 4}
    assert Counter(t["success"] for t in tools) == {True: 9, False: 1, None: 4}
    failed = next(t for t in tools if t["success"] is False)
    assert failed["attributes"]["command"] == "npm run lint" and failed["error"] == "Command failed with exit code 1"
    assert {t["success"] for t in tools if t["tool_name"] == "unknown"} == {None}
    assert all(t["attributes"]["tool_name_missing"] for t in tools if t["tool_name"] == "unknown")
    attributed = [t for t in tools if t["session_id"]]
    assert len(attributed) == 3 and len(tools) - len(attributed) == 11
    assert sorted((t["session_id"], t["tool_name"], t["duration_ms"]) for t in attributed) == [
        (G1, "Edit", 150.0), (G1, "Read", 40.0), (OPEN_1, "Bash", 1250.0)]
    # Hook run times are not tool durations (trap 6).
    assert all(t["duration_ms"] is None for t in tools if t["session_id"] is None)
    unattributed_ids = Counter(t["attributes"]["legacy_session_id"] for t in tools if t["session_id"] is None)
    assert unattributed_ids == {"default": 8, "default-session": 3}


def test_agent_invocations(sample):
    agents = of(sample[0], "agent_invocation")
    assert len(agents) == 7
    assert Counter(a["agent_name"] for a in agents) == {"code-reviewer": 3, "frontend-developer": 2, "meta-agent": 1, "test-runner": 1}
    assert Counter(a["success"] for a in agents) == {True: 5, False: 1, None: 1}
    assert "Task" not in {a["agent_name"] for a in agents}
    g1 = {a["agent_name"]: a for a in agents if a["session_id"] == G1}
    assert (g1["meta-agent"]["duration_ms"], g1["meta-agent"]["attributes"]["legacy_complexity_score"]) == (1500.0, 7.5)
    assert (g1["code-reviewer"]["duration_ms"], g1["code-reviewer"]["attributes"]["legacy_complexity_score"]) == (3200.0, 4.0)
    g0 = {a["attributes"]["invocation_id"][:8]: a for a in agents if a["attributes"].get("legacy_generation") == "G0"}
    front, review, tests = g0["0f3b6c2e"], g0["1a2b3c4d"], g0["2b3c4d5e"]
    assert (front["timestamp"], front["attributes"]["ended_at"], front["duration_ms"], front["success"]) == (
        "2025-09-01T15:30:18.673302+00:00", "2025-09-01T15:34:02.115870+00:00", 223442.0, True)
    assert (review["timestamp"], review["attributes"]["ended_at"], review["duration_ms"], review["success"]) == (
        "2025-09-01T16:02:44.201337+00:00", "2025-09-01T16:03:30.990412+00:00", 46789.0, False)
    assert review["attributes"]["outcome_summary"] == "Review aborted: no diff found"
    assert (tests["timestamp"], tests["success"], tests["duration_ms"]) == ("2025-09-01T16:15:09.004118+00:00", None, None)
    assert [front["attributes"]["legacy_complexity_score"], review["attributes"]["legacy_complexity_score"],
            tests["attributes"]["legacy_complexity_score"]] == [5, 3, 2]
    assert len([a for a in agents if a["session_id"] is None and a["attributes"].get("legacy_generation") == "G2/G3"]) == 2


def test_commands_and_lines_of_code(sample):
    events = sample[0]
    commands = {c["command_name"]: c for c in of(events, "command")}
    assert set(commands) == {"/execute-tasks", "/create-spec"}
    assert (commands["/execute-tasks"]["success"], commands["/execute-tasks"]["duration_ms"]) == (True, 2500.0)
    assert (commands["/create-spec"]["success"], commands["/create-spec"]["duration_ms"]) == (False, 4100.0)
    assert commands["/create-spec"]["attributes"]["exit_code"] == 1
    changes = of(events, "code_change")
    assert sum(c["lines_added"] for c in changes) == 52 and sum(c["lines_removed"] for c in changes) == 4
    assert sorted((c["attributes"]["tool_name"], c["lines_added"], c["lines_removed"]) for c in changes) == [
        ("Edit", 12, 4), ("Write", 40, 0)]


def test_sessions(sample):
    events = sample[0]
    starts = {e["session_id"]: e for e in of(events, "session_start")}
    ends = {e["session_id"]: e for e in of(events, "session_end")}
    assert set(starts) == {G1, G2_SESSION, D, OPEN_1, OPEN_2}
    assert {sid: e["timestamp"] for sid, e in starts.items()} == {
        G1: "2025-08-31T16:19:58.102311+00:00", G2_SESSION: "2025-09-02T14:01:12.481923+00:00",
        D: "2025-09-08T13:30:05+00:00", OPEN_1: "2025-09-10T15:15:30+00:00", OPEN_2: "2025-09-10T15:19:02+00:00"}
    assert {sid: e["timestamp"] for sid, e in ends.items()} == {
        G1: "2025-08-31T16:31:40.877102+00:00", G2_SESSION: "2025-09-02T16:02:40.118230+00:00", D: "2025-09-08T14:12:44+00:00"}
    with_start_record = {s for s, e in starts.items() if e["attributes"]["start_source"] in ("init", "stream")}
    assert with_start_record == {G2_SESSION, D, OPEN_1, OPEN_2}
    assert {s for s, e in ends.items() if e["attributes"]["end_source"] == "summary"} == {G2_SESSION, D}
    assert {s for s, e in starts.items() if e["attributes"]["legacy_open"]} == {OPEN_1, OPEN_2}
    g2, d = ends[G2_SESSION]["attributes"], ends[D]["attributes"]
    assert (g2["legacy_productivity_score"], g2["legacy_productivity_score_100"], g2["legacy_trend"], g2["legacy_duration_hours"]) == (7.5, 75.0, "good", 2.02)
    assert g2["legacy_metrics"]["lines_changed"] == 48 and g2["legacy_metrics"]["success_rate"] == 99.8
    # The re-summary (33.25 h, score 6) is flagged, not applied.
    assert (d["legacy_productivity_score_100"], d["legacy_trend"], d["legacy_duration_hours"]) == (34.0, "needs_improvement", 0.71)
    assert starts[G2_SESSION]["attributes"]["cwd"] == "/Users/jdoe/src/web-app"
    assert starts[G2_SESSION]["attributes"]["git_branch"] == "feature/login"


def test_no_session_for_non_uuid_ids(sample):
    named = {e["session_id"] for e in sample[0]} - {None}
    assert named == {G1, G2_SESSION, D, OPEN_1, OPEN_2}
    assert not named & {"default", "default-session", "test-perf-agent"}


def test_secrets_are_never_kept(sample):
    events, stats, _ = sample
    assert TOKEN not in json.dumps(events)
    assert TOKEN not in json.dumps(stats.__dict__)


def test_identities_link_the_login_to_the_profile(sample):
    stats = sample[1]
    assert set(stats.identities) == {"user:jdoe", "email:jane.doe@example.com", f"profile:{PROFILE_ID}"}
    assert stats.preferred_email == "jane.doe@example.com"


def test_event_ids_are_deterministic_and_independent_of_the_path(sample, tmp_path):
    ids = [e["event_id"] for e in sample[0]]
    assert len(ids) == len(set(ids))
    shutil.copytree(LEGACY, tmp_path / "elsewhere")
    moved, _ = parse(tmp_path / "elsewhere" / "home", tmp_path / "elsewhere" / "repo")
    assert [i.event["event_id"] for i in moved] == ids


def test_items_are_grouped_by_file_in_discovery_order():
    parser = LegacyParser(home=HOME, cwd=REPO)
    files = [str(f) for f in parser.discover([HOME, REPO])]
    sources = [i.source for i in parser.parse([Path(f) for f in files], ParseStats())]
    runs = [s for n, s in enumerate(sources) if n == 0 or sources[n - 1] != s]
    assert len(runs) == len(set(runs)) and runs == sorted(runs, key=files.index)


# --- rules that the samples exercise only partly ---------------------------------------------------

def _write(path: Path, *records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


POST = {"event_type": "tool_execution", "timestamp": "2025-09-10T10:20:11-05:00", "tool_name": "post", "success": True,
        "execution_time_ms": 14, "user": "jdoe", "session_id": "default", "generic_tool": True, "input_keys": []}


def test_genuine_repeats_inside_one_file_are_kept_copies_are_not(tmp_path):
    live = _write(tmp_path / ".agent-os" / "metrics" / "tool-metrics.jsonl", POST, POST)
    _write(tmp_path / ".claude" / "metrics" / "tool-metrics.jsonl", POST)
    _write(tmp_path / ".ai-mesh" / "metrics" / "tool-metrics.jsonl", json.dumps(POST, indent=None, separators=(",", ":")), POST, POST)
    items, stats = parse(tmp_path, parser=LegacyParser(home=tmp_path))
    # Kept max-over-files times: 3 (the .ai-mesh file holds three, spacing aside), the first two
    # from the file read first; the other 3 lines are copies.
    mesh = tmp_path / ".ai-mesh" / "metrics" / "tool-metrics.jsonl"
    assert [i.source for i in items] == [str(live), str(live), str(mesh)]
    assert len({i.event["event_id"] for i in items}) == 3
    assert stats.duplicates == 3


def test_a_summary_without_its_stream_file_keeps_the_earliest_end(tmp_path):
    sessions = tmp_path / "metrics" / "sessions"
    summary = {"session_id": D, "start_time": "2025-09-08T08:30:05-05:00", "trend": "good", "productivity_score": 6}
    _write(tmp_path / "metrics" / "session-history.jsonl", {**summary, "end_time": "2025-09-09T17:45:10-05:00"},
           {**summary, "end_time": "2025-09-08T09:12:44-05:00"})
    sessions.mkdir()
    items, stats = parse(tmp_path / "metrics", parser=LegacyParser(home=tmp_path))
    events = [i.event for i in items]
    assert [(e["type"], e["timestamp"]) for e in events] == [
        ("session_start", "2025-09-08T13:30:05+00:00"), ("session_end", "2025-09-08T14:12:44+00:00")]
    assert stats.counters["flagged_resummaries"] == 1


def test_a_re_run_on_some_files_still_decides_with_the_session_files():
    """The runner re-parses only changed files; the summary rule still sees the stream files."""
    parser = LegacyParser(home=HOME)
    files = parser.discover([HOME])
    resummary = next(f for f in files if f.name == "default-session_summary.json")
    stats = ParseStats()
    assert list(parser.parse([resummary], stats)) == []
    assert stats.counters["flagged_resummaries"] == 1 and stats.records_read == 1


def test_bad_lines_are_reported_with_file_and_line_and_never_stop_the_import(tmp_path):
    path = _write(tmp_path / "metrics" / "tool-metrics.jsonl", POST, "{broken", "[1, 2]",
                  {**POST, "timestamp": "yesterday"}, {**POST, "tool_name": "Read", "timestamp": "2025-09-10T10:21:00-05:00"},
                  {**POST, "tool_name": None}, {"something": "else", "timestamp": "2025-09-10T10:22:00Z"})
    items, stats = parse(path.parent, parser=LegacyParser(home=tmp_path))
    errors = [(i.error.source, i.error.line, i.error.reason) for i in items if i.error]
    assert [(s, n) for s, n, _ in errors] == [(str(path), 2), (str(path), 3), (str(path), 4), (str(path), 6)]
    assert errors[0][2].startswith("not valid JSON") and errors[1][2] == "not a JSON object (got list)"
    assert "timestamp" in errors[2][2] and "tool_name" in errors[3][2]
    events = [i.event for i in items if i.event]
    assert [e.get("tool_name", e.get("name")) for e in events] == ["unknown", "Read", "legacy_unknown_record"]
    assert stats.records_read == 7 and stats.counters["unknown_shape"] == 1


def test_g0_naive_times_use_the_configured_zone():
    items, _ = parse(REPO, parser=LegacyParser(home=REPO, naive_timezone="Europe/Berlin"))
    assert items[0].event["timestamp"] == "2025-09-01T08:30:18.673302+00:00"


def test_spec_only_shapes_are_accepted_and_flagged(tmp_path):
    path = _write(tmp_path / "m" / "tool-metrics.jsonl",
                  {"tool": "Edit", "timestamp": "2025-09-03T10:00:00Z", "file": "a.py", "added": 3, "removed": 1, "success": True},
                  {"agent": "planner", "task": "plan", "duration_ms": 900, "success": False, "timestamp": "2025-09-03T10:01:00Z"})
    items, stats = parse(path.parent, parser=LegacyParser(home=tmp_path))
    assert [(i.event["type"], i.event["attributes"]["spec_shape"]) for i in items] == [
        ("tool_execution", True), ("code_change", True), ("agent_invocation", True)]
    assert stats.counters["spec_shape"] == 2


# --- end to end ----------------------------------------------------------------------------------


async def _stored(store, people):
    async with store.unit_of_work(people.alice) as uow:
        events = list(await uow.session.scalars(select(MetricEvent)))
        sessions = list(await uow.session.scalars(select(AgentSession)))
        mapped = list(await uow.session.scalars(select(LocalDataMapping)))
    return events, sessions, mapped


@pytest.mark.anyio
async def test_import_end_to_end_totals_idempotence_and_no_secrets(store, people, sink):
    report = await run_import(LegacyParser(home=HOME), [HOME, REPO], sink, user="alice@a.test", show_progress=False)
    assert (report.records_read, report.rejected, report.errors) == (72, 0, [])
    assert report.imported == 33 and report.records_duplicates == 26 and report.duplicates == 26
    events, sessions, mapped = await _stored(store, people)
    kinds = Counter(e.kind for e in events)
    assert kinds == {"tool_execution": 14, "agent_invocation": 7, "command": 2, "code_change": 2}
    tools = [e for e in events if e.kind == "tool_execution"]
    assert Counter(e.name for e in tools) == {"Bash": 3, "Read": 2, "Edit": 2, "Task": 2, "Write": 1, "unknown": 4}
    assert Counter(e.success for e in tools) == {True: 9, False: 1, None: 4}
    assert sum(1 for e in tools if e.session_id) == 3
    agents = [e for e in events if e.kind == "agent_invocation"]
    assert Counter(e.success for e in agents) == {True: 5, False: 1, None: 1}
    assert sorted((e.name, e.duration_ms, e.success) for e in events if e.kind == "command") == [
        ("/create-spec", 4100.0, False), ("/execute-tasks", 2500.0, True)]
    changes = [e for e in events if e.kind == "code_change"]
    assert (sum(e.lines_added for e in changes), sum(e.lines_removed for e in changes)) == (52, 4)
    assert {e.user_id for e in events} == {people.alice.user_id}
    by_id = {s.id: s for s in sessions}
    assert set(by_id) == {G1, G2_SESSION, D, OPEN_1, OPEN_2}
    assert {s.id for s in sessions if s.ended_at is None} == {OPEN_1, OPEN_2}
    assert by_id[D].ended_at.isoformat().startswith("2025-09-08T14:12:44")
    assert by_id[G2_SESSION].attributes["legacy_productivity_score_100"] == 75.0
    stored_text = json.dumps([e.attributes for e in events] + [s.attributes for s in sessions], default=str)
    assert TOKEN not in stored_text and "auth_token" not in stored_text
    assert {m.local_identity for m in mapped} == {"user:jdoe", "email:jane.doe@example.com", f"profile:{PROFILE_ID}"}

    again = await run_import(LegacyParser(home=HOME), [HOME, REPO], sink, user="alice@a.test", show_progress=False)
    assert (again.imported, again.rejected) == (0, 0)
    events_after, sessions_after, _ = await _stored(store, people)
    assert (len(events_after), len(sessions_after)) == (len(events), len(sessions))


@pytest.mark.anyio
async def test_a_malformed_line_is_reported_and_the_rest_imports(store, people, sink, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(HOME, home)
    tool_file = home / ".agent-os" / "metrics" / "tool-metrics.jsonl"
    tool_file.chmod(0o644)
    with tool_file.open("a") as handle:
        handle.write('{"event_type": "tool_execution", "timestamp": \n')
    report = await run_import(LegacyParser(home=home), [home], sink, user="alice@a.test", show_progress=False)
    assert [(e.source, e.line) for e in report.errors] == [(str(tool_file), 15)]
    assert report.errors[0].reason.startswith("not valid JSON")
    events, sessions, _ = await _stored(store, people)
    assert sum(1 for e in events if e.kind == "tool_execution") == 14 and len(sessions) == 5


@pytest.mark.anyio
async def test_a_record_holding_nul_is_imported_with_the_replacement_character(store, people, sink, tmp_path):
    home = tmp_path / "home"
    _write(home / ".agent-os" / "metrics" / "tool-metrics.jsonl", {**POST, "tool_name": "Re\u0000ad"})
    report = await run_import(LegacyParser(home=home), [home], sink, user="alice@a.test", show_progress=False)
    assert report.errors == []
    events, _, _ = await _stored(store, people)
    assert [e.name for e in events] == ["Re\ufffdad"]


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_imports_into_the_embedded_store_and_prints_the_report(tmp_path, monkeypatch):
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path / "data"))
    for name in ("FORTIUM_DATABASE_URL", "FORTIUM_ADMIN_DATABASE_URL", "FORTIUM_API_URL", "FORTIUM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    from fortium_metrics.cli import main

    def run():
        result = CliRunner().invoke(main, ["import", "legacy", str(HOME), str(REPO), "--json", "--no-progress"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = run()
    assert (first["importer"], first["files"], first["records_read"], first["events_imported"], first["records_rejected"],
            first["events_rejected"]) == ("legacy", 22, 72, 33, 0, 0)
    assert first["records_duplicates"] == 26 and first["counters"]["pre_skipped"] == 4
    assert TOKEN not in json.dumps(first)
    second = run()
    assert second["events_imported"] == 0 and second["skipped_files"] > 0


# --- a whole home: repo-local data, spec-shape commands, empty files (tests/fixtures/import) ------

FIXTURE_HOME = Path(__file__).resolve().parent / "fixtures" / "import" / "legacy-home"
FIXTURE_SESSION = "4d1e5f60-7a8b-4c9d-8e0f-1a2b3c4d5e6f"


def _fixture_home(tmp_path: Path) -> Path:
    """The fixture home plus two folders that must never be walked (node_modules, .git), made here
    because git ignores node_modules."""
    home = tmp_path / "home"
    shutil.copytree(FIXTURE_HOME, home)
    invocation = {"agent_name": "never-imported", "invocation_id": "44444444-4444-4444-8444-444444444444",
                  "start_time": "2025-09-01T12:00:00", "end_time": "2025-09-01T12:01:00", "success": True}
    for decoy in ("src/app/node_modules/some-pkg", ".git/x"):
        _write(home / decoy / REPO_DATA_DIR / "agent_invocations_2025-09-01.jsonl", invocation)
    return home


REPO_DATA_DIR = ".agent-os/metrics/data"


def test_repo_local_data_anywhere_under_a_home_is_found_and_heavy_folders_are_skipped(tmp_path):
    home = _fixture_home(tmp_path)
    parser = LegacyParser(home=tmp_path / "nobody")
    files = parser.discover([home])
    assert [str(Path(f).relative_to(home)) for f in parser.folders] == [
        ".agent-os/metrics", "src/app/.agent-os/metrics/data", "work/acme/deep/api/.agent-os/metrics/data"]
    assert len(files) == 7 and not any("node_modules" in str(f) or ".git" in str(f) for f in files)
    default = LegacyParser(home=home, cwd=tmp_path)  # no path named: the home is walked too
    assert default.discover([]) == files and default.folders == parser.folders


@pytest.mark.anyio
async def test_a_home_imports_repo_local_data_spec_commands_with_their_session_and_reports_empty_files(
        store, people, sink, tmp_path):
    home = _fixture_home(tmp_path)
    report = await run_import(LegacyParser(home=tmp_path / "nobody"), [home], sink, user="alice@a.test",
                              show_progress=False)
    assert report.errors == []  # an empty file is not a record, so no "not valid JSON"
    assert sorted(Path(p).name for p in report.empty_files) == [
        "0e0e0e0e-0000-4000-8000-000000000000.json", "command-metrics.jsonl"]
    assert (report.files, report.records_read, report.records_imported, report.records_ignored,
            report.records_duplicates, report.records_rejected) == (7, 13, 10, 3, 0, 0)
    assert (report.events_imported, report.events_duplicates, report.events_rejected) == (9, 0, 0)
    events, sessions, _ = await _stored(store, people)
    assert Counter(e.kind for e in events) == Counter(tool_execution=2, command=2, agent_invocation=3)
    commands = sorted((e.name, e.session_id) for e in events if e.kind == "command")
    assert commands == [("/execute-tasks", FIXTURE_SESSION), ("/fold-prompt", FIXTURE_SESSION)]
    agents = sorted((e.name, e.duration_ms) for e in events if e.kind == "agent_invocation")
    assert agents == [("code-reviewer", 300_000), ("frontend-developer", 60_000), ("test-runner", 30_000)]
    (session,) = sessions
    assert (session.id, session.started_at.isoformat(), session.ended_at.isoformat()) == (
        FIXTURE_SESSION, "2025-09-10T15:15:30+00:00", "2025-09-10T15:20:00+00:00")


@pytest.mark.anyio
async def test_workers_store_a_legacy_import_in_processes_with_the_same_result(store, people, sink, tmp_path,
                                                                                monkeypatch):
    from fortium_metrics.importers import sinks

    home = _fixture_home(tmp_path)
    pids: set[int] = set()
    send = sinks.StorePool.send

    async def watched(pool, events):
        pids.update(process.pid for process in pool._pool._processes.values())
        return await send(pool, events)

    monkeypatch.setattr(sinks.StorePool, "send", watched)
    with (home / ".agent-os" / "metrics" / "tool-metrics.jsonl").open("a") as handle:  # one more, holding U+0000
        handle.write(json.dumps({**POST, "tool_name": "Gr\u0000ep"}) + "\n")
    report = await run_import(LegacyParser(home=tmp_path / "nobody"), [home], sink, user="alice@a.test",
                              show_progress=False, workers=2)
    assert len(pids) == 2 and os.getpid() not in pids  # stored by two other processes
    assert (report.records_read, report.records_imported, report.events_imported, report.rejected) == (14, 11, 10, 0)
    events, sessions, _ = await _stored(store, people)
    assert Counter(e.kind for e in events) == Counter(tool_execution=3, command=2, agent_invocation=3)
    assert "Gr\ufffdep" in {e.name for e in events}  # replaced there as it is in one process
    assert [s.id for s in sessions] == [FIXTURE_SESSION]
    again = await run_import(LegacyParser(home=tmp_path / "nobody"), [home], sink, user="alice@a.test",
                             show_progress=False, workers=2)
    assert (again.skipped_files, again.events_imported) == (7, 0)
