"""Generate N synthetic Claude Code transcript records (JSONL lines) in the ~/.claude/projects layout.

Deterministic for a given --seed. Realistic shapes, per docs/formats/claude-code-transcripts.md:
sessions of a few hundred lines in project directories; typed prompts; API requests streamed as
1-3 assistant lines (thinking / text / tool_use) with the real output only on the final chunk;
tool results (some failing); Task/Agent subagents, inline `isSidechain` lines in 1.0.x sessions and
`<session>/subagents/agent-*.jsonl` files in 2.x sessions; interrupted streams; `<synthetic>` API
error lines (api_error events); summary / file-history-snapshot / system lines. Every line written counts as one
record. A `manifest.json` beside the files gives the events a correct import must produce.

    python bench/gen_records.py /tmp/cc-1m --records 1000000
"""
from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECTS = ["web-app", "payments-api", "mobile-client", "infra", "data-pipeline", "design-system", "auth-service",
            "search", "billing", "docs-site", "ml-models", "cli-tools"]
TOOLS = [("Read", 30), ("Edit", 18), ("Bash", 22), ("Grep", 10), ("Glob", 5), ("Write", 6), ("TodoWrite", 4),
         ("WebFetch", 1), ("mcp__github__get_issue", 2), ("mcp__linear__search", 2)]
SUBAGENTS = ["Explore", "general-purpose", "code-reviewer", "test-runner", "Plan"]
WORDS = ("the refund handler returns a float where Decimal is expected so partial refunds fail validation "
         "and the endpoint answers 500 instead of 422 let me read the module run the tests and fix the rounding "
         "function then commit the change with a clear message ").split()
TEXT = " ".join(WORDS * 40)
FILE_BODY = "".join(f"{i:6d}\tdef handler_{i}(request):  # {WORDS[i % len(WORDS)]}\n" for i in range(400))


class Gen:
    def __init__(self, seed: int, out: Path) -> None:
        self.rng = random.Random(seed)
        self.out = out
        self.files: dict[Path, list[str]] = defaultdict(list)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def rid(self, prefix: str) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(20))

    def text(self, low: int, high: int) -> str:
        start = self.rng.randrange(0, len(TEXT) - high)
        return TEXT[start:start + self.rng.randint(low, high)]

    def session(self, budget: int, when: datetime) -> list[tuple[Path, dict, tuple]]:
        """One session of about `budget` lines: [(file, line, facts)], facts = ("prompt",) / ("request", id) / ("tool",)."""
        rng = self.rng
        project = rng.choice(PROJECTS)
        cwd = f"/Users/dev{rng.randint(1, 40)}/src/{project}"
        new = rng.random() < 0.7
        version = rng.choice(["2.1.90", "2.0.64", "2.1.12"]) if new else rng.choice(["1.0.98", "1.0.72"])
        session = self.uid()
        folder = self.out / cwd.replace("/", "-").replace(".", "-")
        main_file = folder / f"{session}.jsonl"
        model = self.model = rng.choice(["claude-sonnet-4-5-20250929"] * 6 + ["claude-opus-4-5-20251101"] * 2
                                        + ["claude-sonnet-4-20250514"])
        base = {"isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session, "version": version,
                "gitBranch": rng.choice(["main", f"feature/{rng.choice(WORDS)}", f"fix/{rng.choice(WORDS)}-{rng.randint(1, 999)}"])}
        if new:
            base["entrypoint"] = "cli"
        rows: list[tuple[Path, dict, tuple]] = []
        clock = [when]
        parent = [None]

        def stamp(seconds: float) -> str:
            clock[0] += timedelta(seconds=seconds)
            return clock[0].strftime("%Y-%m-%dT%H:%M:%S.") + f"{clock[0].microsecond // 1000:03d}Z"

        def add(path, line, facts=(), thread=parent):
            line = {"parentUuid": thread[0], **line, "uuid": self.uid(), "timestamp": stamp(rng.uniform(0.3, 6))}
            thread[0] = line["uuid"]
            rows.append((path, line, facts))
            return line

        def request(path, common, thread, req_model, tools_left, final_text):
            """One streamed API request; returns the tool_use ids it made."""
            rid, mid = self.rid("req_011C"), self.rid("msg_01")
            cache_write = rng.randint(0, 9000)
            usage = {"input_tokens": rng.randint(3, 12), "cache_creation_input_tokens": cache_write,
                     "cache_read_input_tokens": rng.randint(0, 120_000), "output_tokens": 0, "service_tier": "standard"}
            if common["version"].startswith("2."):
                one_hour = cache_write if rng.random() < 0.5 else 0
                usage["cache_creation"] = {"ephemeral_5m_input_tokens": cache_write - one_hour, "ephemeral_1h_input_tokens": one_hour}
            blocks = []
            if rng.random() < 0.35:
                blocks.append({"type": "thinking", "thinking": self.text(40, 400), "signature": self.rid("Eq")})
            if rng.random() < 0.7 or not tools_left:
                blocks.append({"type": "text", "text": self.text(20, 300)})
            uses = []
            if tools_left and not final_text:
                name = rng.choices([t for t, _ in TOOLS], [w for _, w in TOOLS])[0]
                tool_id = self.rid("toolu_01")
                blocks.append({"type": "tool_use", "id": tool_id, "name": name,
                               "input": {"file_path": f"{cwd}/src/{rng.choice(WORDS)}.py", "command": self.text(10, 60)}})
                uses.append((tool_id, name))
            interrupted = rng.random() < 0.01
            for i, block in enumerate(blocks):
                last = i == len(blocks) - 1 and not interrupted
                chunk_usage = {**usage, "output_tokens": rng.randint(40, 1200) if last else rng.randint(1, 11)}
                message = {"id": mid, "type": "message", "role": "assistant", "model": req_model, "content": [block],
                           "stop_reason": ("tool_use" if uses else "end_turn") if last else None, "stop_sequence": None,
                           "usage": chunk_usage}
                add(path, {**common, "message": message, "requestId": rid, "type": "assistant"},
                    ("request", rid) + (("tool",) if block["type"] == "tool_use" else ()), thread)
            if interrupted:
                add(path, {**common, "type": "user", "message": {"role": "user", "content": [
                    {"type": "text", "text": "[Request interrupted by user]"}]}}, (), thread)
                return []
            return uses

        def results(path, common, thread, uses):
            for tool_id, _name in uses:
                failed = rng.random() < 0.05
                body = FILE_BODY[: rng.randint(80, 3000)]
                line = {**common, "type": "user", "message": {"role": "user", "content": [
                    {"tool_use_id": tool_id, "type": "tool_result", "content": body, **({"is_error": True} if failed else {})}]}}
                if rng.random() < 0.3:
                    line["toolUseResult"] = {"stdout": body[:200], "stderr": "", "interrupted": False, "isImage": False}
                add(path, line, (), thread)

        if not new and rng.random() < 0.3:
            rows.append((main_file, {"type": "summary", "summary": self.text(20, 60), "leafUuid": self.uid()}, ()))
        while len(rows) < budget:
            if new and rng.random() < 0.5:
                rows.append((main_file, {"type": "file-history-snapshot", "messageId": self.uid(),
                                         "snapshot": {"trackedFileBackups": {}, "timestamp": stamp(0)}, "isSnapshotUpdate": False}, ()))
            add(main_file, {**base, "type": "user", "message": {"role": "user", "content": self.text(15, 400)}}, ("prompt",))
            for _step in range(rng.randint(2, 12)):
                if rng.random() < 0.005:
                    add(main_file, {**base, "type": "assistant", "isApiErrorMessage": True, "message": {
                        "id": self.uid(), "model": "<synthetic>", "role": "assistant", "stop_reason": "stop_sequence",
                        "type": "message", "usage": {"input_tokens": 0, "output_tokens": 0}, "content": [
                            {"type": "text", "text": "API Error: 529 Overloaded"}]}}, ("api_error",))
                if rng.random() < 0.04:
                    self.subagent(main_file, base, add, request, results, new, session)
                    continue
                uses = request(main_file, base, parent, model, True, False)
                results(main_file, base, parent, uses)
                if len(rows) >= budget:
                    break
            request(main_file, base, parent, model, False, True)
            if rng.random() < 0.3:
                add(main_file, {**base, "type": "system", "subtype": "turn_duration", "durationMs": rng.randint(2000, 90_000)})
        return rows

    def subagent(self, main_file, base, add, request, results, new, session):
        rng = self.rng
        kind = rng.choice(SUBAGENTS)
        prompt = f"{kind}: " + self.text(40, 300)
        tool_id = self.rid("toolu_01")
        launch = {"type": "tool_use", "id": tool_id, "name": "Agent" if new else "Task",
                  "input": {"description": "delegate", "prompt": prompt, "subagent_type": kind}}
        rid = self.rid("req_011C")
        add(main_file, {**base, "type": "assistant", "requestId": rid, "message": {
            "id": self.rid("msg_01"), "type": "message", "role": "assistant", "model": self.model,
            "content": [launch], "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 5, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 20000, "output_tokens": 150}}},
            ("request", rid, "tool"))
        agent_id = f"{rng.getrandbits(32):08x}"
        if new:
            path = main_file.parent / main_file.stem / "subagents" / f"agent-{agent_id}.jsonl"
            common = {**base, "isSidechain": True, "agentId": agent_id}
        else:
            path, common = main_file, {**base, "isSidechain": True}
        thread = [None]
        add(path, {**common, "type": "user", "message": {"role": "user", "content": prompt}}, (), thread)
        for _ in range(rng.randint(1, 6)):
            results(path, common, thread, request(path, common, thread, "claude-haiku-4-5-20251001", True, False))
        request(path, common, thread, "claude-haiku-4-5-20251001", False, True)
        add(main_file, {**base, "type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": [{"type": "text", "text": self.text(50, 400)}]}]}})


def generate(out: Path, records: int, seed: int = 1, session_lines: int = 400) -> dict:
    gen = Gen(seed, out)
    start = datetime(2026, 1, 20, 8, 0, tzinfo=timezone.utc)
    written = 0
    facts = {"prompts": 0, "tool_executions": 0, "api_errors": 0, "requests": set(), "sessions": set()}
    handles: dict[Path, object] = {}
    size = 0
    try:
        while written < records:
            when = start - timedelta(days=gen.rng.uniform(0, 25))
            rows = gen.session(min(gen.rng.randint(session_lines // 2, session_lines * 3 // 2), records - written), when)
            rows = rows[: records - written]
            for path, line, tags in rows:
                handle = handles.get(path)
                if handle is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if len(handles) > 64:
                        for h in handles.values():
                            h.close()
                        handles.clear()
                    handle = handles[path] = path.open("a", encoding="utf-8")
                data = json.dumps(line, separators=(",", ":")) + "\n"
                size += len(data)
                handle.write(data)
                if "prompt" in tags:
                    facts["prompts"] += 1
                if "request" in tags:
                    facts["requests"].add(tags[1])
                if "tool" in tags:
                    facts["tool_executions"] += 1
                if "api_error" in tags:
                    facts["api_errors"] += 1
                if line.get("type") in ("user", "assistant") and path.parent.name != "subagents":
                    facts["sessions"].add(line["sessionId"])
            written += len(rows)
    finally:
        for h in handles.values():
            h.close()
    manifest = {"records": written, "seed": seed, "bytes": size, "files": sum(1 for _ in out.rglob("*.jsonl")),
                "sessions": len(facts["sessions"]), "prompts": facts["prompts"], "api_requests": len(facts["requests"]),
                "tool_executions": facts["tool_executions"], "api_errors": facts["api_errors"]}
    manifest["events"] = (2 * manifest["sessions"] + manifest["prompts"] + manifest["api_requests"]
                          + manifest["tool_executions"] + manifest["api_errors"])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output directory (must be empty or absent)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--session-lines", type=int, default=400, help="mean lines per session")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    manifest = generate(args.out, args.records, args.seed, args.session_lines)
    print(json.dumps(manifest), f"in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
