"""Generate N legacy local-metrics records (docs/formats/legacy-local-metrics.md) in a home's layout.

Deterministic for a given --seed. The real variety: per session an init `.json`, a stream
`.jsonl` and a `_summary.json` (tens of thousands of small files) plus its line in
`session-history.jsonl` (a copy); G2/G3a tool records with Node `pre`/`post` twins and Edit line
counts in `~/.agent-os/metrics`, G3b records with an `auth_token` in `~/.ai-mesh/metrics`, G4 in
`~/.ensemble/metrics`, G1 command and agent records; a backup root and `~/.claude/metrics`
holding copies; G0 invocations (start and end lines) and performance lines in repo-local
`~/src/<repo>/.agent-os/metrics/data/` folders (one behind a `node_modules` that must not be
walked); a truncated line now and then. A `manifest.json` beside the home gives what a correct
import must report.

    python bench/gen_legacy.py /tmp/legacy-1m --records 1000000
"""
from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

TOOLS = ["Read", "Edit", "Bash", "Grep", "Glob", "Write", "TodoWrite", "Task"]
COMMANDS = ["/execute-tasks", "/create-spec", "/fold-prompt", "/plan-product"]
AGENTS = ["meta-agent", "code-reviewer", "frontend-developer", "test-runner", "backend-developer"]
REPOS = ["web-app", "payments-api", "mobile-client", "infra", "data-pipeline", "design-system", "auth-service",
         "search", "billing", "docs-site", "ml-models", "cli-tools"]
CORRUPT_EVERY = 2000  # one truncated line per this many tool lines


class Writer:
    """Appends lines to files, keeping at most a few open; counts records, events and the rest."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.handles: dict[Path, object] = {}
        self.facts = dict(records=0, events=0, duplicates=0, ignored=0, rejected=0, files=0, bytes=0)

    def line(self, rel: str, record: dict | str, events: int = 0, *, duplicate: bool = False, ignored: bool = False,
             python: bool = False, corrupt: bool = False) -> str:
        text = record if isinstance(record, str) else json.dumps(
            record, separators=(", ", ": ") if python else (",", ":"))
        self._append(rel, text + "\n")
        self._count(events, duplicate, ignored, corrupt)
        return text

    def json_file(self, rel: str, record: dict, events: int = 0) -> None:
        path = self.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(record, indent=2)
        path.write_text(text)
        self.facts["files"] += 1
        self.facts["bytes"] += len(text)
        self._count(events, False, False, False)

    def _count(self, events: int, duplicate: bool, ignored: bool, rejected: bool) -> None:
        facts = self.facts
        facts["records"] += 1
        facts["events"] += 0 if duplicate else events
        facts["duplicates"] += duplicate
        facts["ignored"] += ignored and not duplicate
        facts["rejected"] += rejected

    def _append(self, rel: str, text: str) -> None:
        path = self.home / rel
        handle = self.handles.get(path)
        if handle is None:
            if len(self.handles) > 32:
                self.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.facts["files"] += not path.exists()
            handle = self.handles[path] = path.open("a", encoding="utf-8")
        handle.write(text)
        self.facts["bytes"] += len(text)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


class Gen:
    def __init__(self, home: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = Writer(home)
        self.tool_lines = 0
        self.copies: list[tuple[str, str]] = []  # (root, line) to write again in a copy root

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def session(self, start: datetime) -> None:
        rng, out = self.rng, self.out
        sid = self.uid()
        local = rng.random() < 0.5  # G3a Node: local time with an offset; G2 Python: UTC with Z
        stamp = (lambda t: t.astimezone(timezone(timedelta(hours=-5))).isoformat()) if local else (
            lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        end = start + timedelta(minutes=rng.randint(10, 240))
        repo = rng.choice(REPOS)
        init = {"session_id": sid, "start_time": stamp(start), "user": "jdoe",
                "working_directory": f"/Users/jdoe/src/{repo}", "git_branch": "main",
                "productivity_metrics": {"commands_executed": 0, "tools_invoked": 0, "agents_used": []},
                "quality_metrics": {"tests_run": 0}, "workflow_metrics": {"git_commits": 0}}
        out.json_file(f".agent-os/metrics/sessions/{sid}.json", init, events=1)  # the session start
        stream = f".agent-os/metrics/sessions/{sid}.jsonl"
        out.line(stream, {"event": "session_start", "timestamp": stamp(start), "session_id": sid, "user": "jdoe",
                          "git_branch": "main", "working_directory": f"/Users/jdoe/src/{repo}"})  # merged into it
        out.line(stream, {"event": "session_end", "timestamp": stamp(end), "session_id": sid, "duration_hours": 1.0,
                          "productivity_score": 7.5, "final_metrics": {"tools_used": 3, "success_rate": 100}})
        summary = {"session_id": sid, "start_time": stamp(start), "end_time": stamp(end), "duration_hours": 1.0,
                   "productivity_score": 7.5, "trend": "good", "metrics": {"tools_used": 3, "success_rate": 100}}
        out.json_file(f".agent-os/metrics/sessions/{sid}_summary.json", summary, events=1)  # the session end
        out.line(".agent-os/metrics/session-history.jsonl", summary, duplicate=True)  # the same object again
        span = (end - start).total_seconds()
        moments = sorted(start + timedelta(seconds=rng.uniform(1, span - 1)) for _ in range(90))
        for i, moment in enumerate(moments):
            self.activity(i, moment, sid, stamp, local)

    def activity(self, i: int, moment: datetime, sid: str, stamp, local: bool) -> None:
        rng, out = self.rng, self.out
        when = stamp(moment)
        if i % 18 == 5:  # G1 collector records (one file per kind)
            out.line(".agent-os/metrics/command-metrics.jsonl", {
                "event_type": "command", "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "session_id": sid,
                "user": "jdoe", "data": {}, "command": rng.choice(COMMANDS), "duration_ms": rng.randint(100, 9000),
                "exit_code": 0, "success": True}, events=1)
        elif i % 18 == 11:
            out.line(".agent-os/metrics/agent-metrics.jsonl", {
                "event_type": "agent", "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "session_id": sid,
                "user": "jdoe", "data": {}, "agent_name": rng.choice(AGENTS), "duration_ms": rng.randint(100, 9000),
                "success": True, "complexity_score": 5.0}, events=1)
        elif i % 6 == 1:  # G3b (~/.ai-mesh) and G4 (~/.ensemble): Node records with the profile's fields
            root = ".ai-mesh" if (i // 6) % 4 else ".ensemble"
            record = {"event_type": "tool_execution", "timestamp": when, "tool_name": rng.choice(TOOLS),
                      "success": True, "execution_time_ms": round(rng.uniform(0.1, 9), 2), "user": "jdoe",
                      "session_id": sid, "user_id": "5c0e2f7a-3b1d-4c8e-9f2a-6d4b8e1c0a77", "organization_id": "1",
                      "auth_token": "deadbeef" * 8}
            text = out.line(f"{root}/metrics/tool-metrics.jsonl", record, events=1)
            if root == ".ai-mesh" and rng.random() < 0.5:
                self.copies.append((".claude/metrics/tool-metrics.jsonl", text))  # the older location, rsynced
        else:
            self.tool(moment, when, sid, local)

    def tool(self, moment: datetime, when: str, sid: str, local: bool) -> None:
        rng, out = self.rng, self.out
        self.tool_lines += 1
        path = ".agent-os/metrics/tool-metrics.jsonl"
        if self.tool_lines % CORRUPT_EVERY == 0:
            out.line(path, '{"event_type":"tool_execution","timestamp":"' + when + '","tool_na', corrupt=True)  # truncated
            return
        if local and rng.random() < 0.1:  # the Node hooks' fake `pre`/`post` pair (trap 4)
            for name, events in (("pre", 0), ("post", 1)):
                out.line(path, {"event_type": "tool_execution", "timestamp": when, "tool_name": name, "success": True,
                                "execution_time_ms": 1, "user": "jdoe", "session_id": sid}, events=events,
                         ignored=name == "pre")
            return
        name = rng.choice(TOOLS)
        record = {"event_type": "tool_execution", "timestamp": when, "tool_name": name, "success": rng.random() > 0.03,
                  "execution_time_ms": round(rng.uniform(0.1, 9), 2), "user": "jdoe", "session_id": sid,
                  "file_path": f"/Users/jdoe/src/app/{rng.randint(1, 500)}.py"}
        events = 1
        if name == "Edit":
            record.update(lines_added=rng.randint(1, 40), lines_removed=rng.randint(0, 20))
            events = 2  # the tool execution and its code change
        text = out.line(path, record, events=events, python=not local)
        if rng.random() < 0.3:  # copied whole into the Python-to-Node migration backup
            self.copies.append((".agent-os/metrics-backup-python/2025-09-05T18_40_11_902Z/tool-metrics.jsonl", text))

    def g0(self, budget: int, start: datetime) -> None:
        """Repo-local G0 files: two lines per invocation (start, completion) and a performance line."""
        rng, out = self.rng, self.out
        for n in range(budget // 3):
            repo = REPOS[n % len(REPOS)]
            base = f"src/{repo}" if n % len(REPOS) else "work/acme/deep/legacy-repo"
            moment = start + timedelta(minutes=n)
            day = moment.strftime("%Y-%m-%d")
            data = f"{base}/.agent-os/metrics/data"
            first = {"agent_name": rng.choice(AGENTS), "invocation_id": self.uid(),
                     "start_time": moment.strftime("%Y-%m-%dT%H:%M:%S.%f"), "task_description": "task",
                     "complexity_score": rng.randint(1, 10), "context": {}, "end_time": None, "success": None,
                     "outcome_summary": None}
            last = {**first, "end_time": (moment + timedelta(seconds=rng.randint(5, 900))).strftime("%Y-%m-%dT%H:%M:%S.%f"),
                    "success": True, "outcome_summary": "done"}
            out.line(f"{data}/agent_invocations_{day}.jsonl", first, ignored=True, python=True)  # superseded
            out.line(f"{data}/agent_invocations_{day}.jsonl", last, events=1, python=True)
            out.line(f"{data}/agent_performance_{day}.jsonl", {
                "invocation_id": first["invocation_id"], "execution_time_ms": rng.randint(1000, 900_000),
                "cpu_usage_percent": 2.0, "memory_usage_mb": 40.0, "peak_memory_mb": 44.0, "tokens_used": None,
                "error_details": None}, python=True)  # joined into its invocation
        decoy = "src/web-app/node_modules/left-pad/.agent-os/metrics/data/agent_invocations_2025-09-01.jsonl"
        (out.home / decoy).parent.mkdir(parents=True, exist_ok=True)
        (out.home / decoy).write_text(json.dumps({**first, "invocation_id": self.uid()}) + "\n")  # never walked


def generate(home: Path, records: int, seed: int = 1) -> dict:
    gen = Gen(home, seed)
    start = datetime(2025, 9, 1, 8, 0, tzinfo=timezone.utc)
    g0_budget = records // 20
    gen.g0(g0_budget, start)
    try:
        while gen.out.facts["records"] + len(gen.copies) < records:
            gen.session(start + timedelta(minutes=gen.rng.uniform(0, 60 * 24 * 90)))
        for rel, text in gen.copies[: max(0, records - gen.out.facts["records"])]:
            gen.out.line(rel, text, duplicate=True)
    finally:
        gen.out.close()
    manifest = {"records": gen.out.facts["records"], "seed": seed, **{k: v for k, v in gen.out.facts.items() if k != "records"}}
    (home.parent / f"{home.name}.manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("home", type=Path, help="the home directory to create (must be empty or absent)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.home.exists() and any(args.home.iterdir()):
        parser.error(f"{args.home} is not empty")
    args.home.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    print(json.dumps(generate(args.home, args.records, args.seed)), f"in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
