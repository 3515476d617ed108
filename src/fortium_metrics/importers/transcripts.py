"""Claude Code transcripts (`~/.claude/projects/**/*.jsonl`) → sessions, prompts, API requests
and tool executions. Format and rules: docs/formats/claude-code-transcripts.md.

- One API request per `requestId` (else `message.id`, else the line): the line with a non-null
  `stop_reason` (the last if several), else (stream interrupted) the line with the most output
  tokens. Tokens and model come from that line only. Cache writes without a 5m/1h split are
  kept as such (`cache_write_unsplit_tokens`, priced as 5m).
- `<synthetic>` / `isApiErrorMessage` lines are the placeholders Claude Code writes when an API
  call failed (`API Error: 529 Overloaded`): each is an `api_error` event with its status code,
  never an API request (no tokens).
- API requests carry `request_id`, so a request already stored (from another file, an earlier run
  or OTLP) counts once; the other events carry ids derived from line uuids / tool ids.
- Subagent lines (`isSidechain`, `agent-*.jsonl`, `<session>/subagents/*.jsonl`) stay in the
  parent session, attributed to the subagent: its type (`Explore`) when the launching
  `Task`/`Agent` call is found, else its `agentId`.
- Prompt text is never kept, only its length. Lines are read one at a time (bytes, decoded by
  orjson; the standard library only for the rare line orjson refuses); a file's requests are
  emitted when the file ends (a request's final chunk may come after other lines).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from .base import Parsed, ParseStats, RecordError, stable_id
from .transcripts_prices import PriceTable

log = logging.getLogger(__name__)

INTERRUPTED = "[Request interrupted by user"
AGENT_TOOLS = ("Task", "Agent")
_decode = json.JSONDecoder().decode
_STATUS = re.compile(r"API Error:\s*(\d{3})\b")
ID_NS = "claude-code"  # namespace of the stable ids (shared with other Claude Code sources)


class LineError(ValueError):
    """A line that is JSON but unusable (missing timestamp, negative tokens, ...)."""


@dataclass(slots=True)
class _Request:
    """The kept line of one request group, reduced to what the event needs."""
    key: str
    request_id: str | None
    message_id: str | None
    model: str | None
    stop: str | None
    usage: dict
    when: datetime
    session: str
    project: str | None
    agent: str | None
    agent_id: str | None
    meta: dict
    lines: int = 1


def _tokens(usage: dict, name: str) -> int:
    value = usage.get(name)
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise LineError(f"message.usage.{name}: not a non-negative integer ({value!r})")
    return value


def _hash(text: str) -> str:
    return hashlib.sha1(text.strip().encode()).hexdigest()


def _text_of(content: Any) -> str | None:
    """The typed text of a user message: the string, or the joined text blocks; None if none."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text") or "" for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "".join(texts) if texts else None
    return None


def _is_subagent_file(path: Path) -> bool:
    return path.name.startswith("agent-") or path.parent.name == "subagents"


class TranscriptParser:
    name = "transcripts"

    def __init__(self, home: Path | None = None, prices: PriceTable | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = os.environ if env is None else env
        self.prices = prices or PriceTable.load()
        self._launches: dict[str, str] = {}  # hash of a Task/Agent prompt -> subagent_type
        self._scanned_parents: set[Path] = set()
        self._projects: dict[str, str] = {}
        self._warned: set[str] = set()

    # ---- discovery -------------------------------------------------------------------------

    def default_roots(self) -> list[Path]:
        home = self.home or Path.home()
        roots = [home / ".claude", home / ".config" / "claude"]
        if self.env.get("CLAUDE_CONFIG_DIR"):
            roots += [Path(p).expanduser() for p in self.env["CLAUDE_CONFIG_DIR"].split(",") if p.strip()]
        return [r / "projects" for r in roots if (r / "projects").is_dir()]

    def discover(self, paths: list[Path]) -> list[Path]:
        found: set[Path] = set()
        for path in [Path(p) for p in paths] or self.default_roots():
            if path.is_file():
                found.add(path)
                found.update((path.parent / path.stem / "subagents").glob("*.jsonl"))
            elif path.is_dir():
                if (path / "projects").is_dir():  # a data root such as ~/.claude
                    path = path / "projects"
                found.update(p for p in path.rglob("*.jsonl") if p.is_file())
        # main session files first, then subagent files (their session's start/end come from the main file)
        return sorted(found, key=lambda p: (_is_subagent_file(p), str(p)))

    # ---- parsing ---------------------------------------------------------------------------

    def parse(self, files: list[Path], stats: ParseStats) -> Iterator[Parsed]:
        for path in files:
            yield from self._parse_file(Path(path), stats)

    def _parse_file(self, path: Path, stats: ParseStats) -> Iterator[Parsed]:
        source = str(path)
        sub_file = _is_subagent_file(path)
        requests: dict[str, _Request] = {}
        tools: dict[str, tuple] = {}  # tool_use id -> (name, when, session, project, attributes)
        agent_of: dict[str, str | None] = {}  # sidechain line uuid -> subagent label
        sessions: dict[str, list] = {}  # main files: session id -> [first, last, attributes, project]
        assistant_lines = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                stats.bytes_read += len(raw)
                if raw.isspace():
                    continue
                stats.records_read += 1
                try:
                    line = _line(raw)
                    kind = line.get("type")
                    if kind != "user" and kind != "assistant":
                        stats.bump("summary_lines" if kind == "summary" else "ignored_lines")
                        stats.ignored += 1
                        continue
                    when = self._when(line)
                    message = line.get("message")
                    if not isinstance(message, dict):
                        raise LineError("message: missing or not an object")
                    session = line.get("sessionId") or (path.parent.parent.name if path.parent.name == "subagents" else path.stem)
                    if not isinstance(session, str) or len(session) > 128:
                        raise LineError("sessionId: not a string of at most 128 characters")
                    cwd = line.get("cwd")
                    meta = {"branch": line.get("gitBranch") or None, "version": line.get("version")}
                    if not sub_file:
                        span = sessions.get(session)
                        if span is None:
                            attributes = {"cwd": cwd, "entrypoint": line.get("entrypoint"), **meta}
                            sessions[session] = [when, when, {k: v for k, v in attributes.items() if v}, self._project(cwd)]
                        elif when < span[0]:
                            span[0] = when
                        elif when > span[1]:
                            span[1] = when
                    sidechain = sub_file or line.get("isSidechain") is True
                    agent = agent_id = None
                    if sidechain:
                        agent_id = line.get("agentId") or (path.stem[6:] if path.name.startswith("agent-") else None)
                        agent = self._agent(line, message, path, session, agent_of) or agent_id or "subagent"
                        meta["subagent"] = True
                        if agent_id:
                            meta["agent_id"] = agent_id
                    project = self._project(cwd)
                    if kind == "assistant":
                        if message.get("model") == "<synthetic>" or line.get("isApiErrorMessage"):
                            stats.bump("api_errors")
                            yield Parsed(source, event=_api_error(line, message, when, session, project, agent, meta))
                            continue
                        assistant_lines += 1
                        self._assistant(line, message, when, session, project, agent, agent_id, meta, requests, tools)
                    else:
                        yield from self._user(source, line, message, when, session, project, sidechain, meta, tools, stats)
                except (ValueError, TypeError, AttributeError, KeyError) as error:
                    reason = f"not JSON: {error}" if isinstance(error, json.JSONDecodeError) else str(error)
                    stats.bump("malformed_lines")
                    yield Parsed(source, error=RecordError(source, number, reason))
        for tool_id, (name, when, session, project, attributes) in tools.items():
            stats.bump("tool_without_result")
            yield Parsed(source, event=self._tool_event(tool_id, name, when, session, project, None, None,
                                                        {**attributes, "outcome": "no_result"}))
        stats.bump("streaming_chunks_collapsed", assistant_lines - len(requests))
        for request in requests.values():
            yield Parsed(source, event=self._request_event(request, stats))
        for session, (first, last, attributes, project) in sessions.items():
            stats.bump("sessions")
            common = {"session_id": session, "project": project, "attributes": attributes}
            yield Parsed(source, event={"type": "session_start", "timestamp": first, **common,
                                        "event_id": stable_id(ID_NS, "session_start", session, first)})
            # The time is part of the id: a grown transcript's later end (or a session spread over
            # two files) is a new fact, while the same file read again repeats the same one.
            yield Parsed(source, event={"type": "session_end", "timestamp": last, **common,
                                        "event_id": stable_id(ID_NS, "session_end", session, last)})

    @staticmethod
    def _when(line: dict) -> datetime:
        stamp = line.get("timestamp")
        if not isinstance(stamp, str):
            raise LineError("timestamp: missing")
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise LineError(f"timestamp: not ISO 8601 ({stamp[:40]!r})") from None
        return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)

    def _project(self, cwd: str | None) -> str | None:
        if not isinstance(cwd, str) or not cwd.strip("/\\"):
            return None
        name = self._projects.get(cwd)
        if name is None:
            name = self._projects[cwd] = cwd.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1][:200]
        return name

    def _assistant(self, line: dict, message: dict, when: datetime, session: str, project: str | None,
                   agent: str | None, agent_id: str | None, meta: dict, requests: dict, tools: dict) -> None:
        usage = message.get("usage") or {}
        if not isinstance(usage, dict):
            raise LineError("message.usage: not an object")
        output = _tokens(usage, "output_tokens")
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            _tokens(usage, name)
        request_id, message_id = line.get("requestId"), message.get("id")
        key = f"r:{request_id}" if request_id else f"m:{message_id}" if message_id else f"u:{session}:{line.get('uuid')}"
        stop = message.get("stop_reason")
        kept = requests.get(key)
        if kept is None:
            requests[key] = _Request(key, request_id, message_id, message.get("model"), stop, usage, when, session,
                                     project, agent, agent_id, meta)
        else:
            kept.lines += 1
            if stop is not None or (kept.stop is None and output >= (kept.usage.get("output_tokens") or 0)):
                kept.model, kept.stop, kept.usage, kept.when = message.get("model"), stop, usage, when
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("id"):
                    name = str(block.get("name") or "unknown")[:200]
                    attributes = dict(meta)
                    if agent:
                        attributes["agent"] = agent
                    if name.startswith("mcp__"):
                        attributes["mcp_server"] = name.split("__")[1]
                    tools[block["id"]] = (name, when, session, project, attributes)
                    tool_input = block.get("input")
                    if name in AGENT_TOOLS and isinstance(tool_input, dict) and tool_input.get("subagent_type"):
                        self._launches[_hash(str(tool_input.get("prompt") or ""))] = str(tool_input["subagent_type"])

    def _user(self, source: str, line: dict, message: dict, when: datetime, session: str, project: str | None,
              sidechain: bool, meta: dict, tools: dict, stats: ParseStats) -> Iterator[Parsed]:
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    found = tools.pop(block.get("tool_use_id"), None)
                    if found is None:
                        stats.bump("tool_result_without_use")
                        continue
                    name, started, t_session, t_project, attributes = found
                    duration = (when - started).total_seconds() * 1000
                    success = block.get("is_error") is not True
                    if duration >= 0:
                        attributes["duration_source"] = "transcript_timestamps"
                    yield Parsed(source, event=self._tool_event(block["tool_use_id"], name, started, t_session, t_project,
                                                                success, duration if 0 <= duration <= 86_400_000 else None,
                                                                attributes))
        text = _text_of(content)
        if sidechain or text is None or line.get("isMeta") or line.get("isCompactSummary"):
            return
        if text.lstrip().startswith(INTERRUPTED):
            stats.bump("interruptions")
            return
        stats.bump("prompts")
        prompt_id = line.get("promptId")
        attributes = {**meta, "prompt_id": prompt_id} if prompt_id else meta
        ident = stable_id(ID_NS, "prompt", line.get("uuid") or f"{session}:{when.isoformat()}")
        yield Parsed(source, event={"type": "prompt", "event_id": ident, "timestamp": when, "session_id": session,
                                    "project": project, "prompt_length": len(text), "attributes": attributes})

    def _agent(self, line: dict, message: dict, path: Path, session: str, agent_of: dict) -> str | None:
        """The subagent a sidechain line belongs to: inherited along parentUuid, or, at a thread's
        root prompt, the subagent_type of the Task/Agent call that was given that prompt."""
        parent = line.get("parentUuid")
        if parent in agent_of:
            label = agent_of[parent]
        else:
            label = None
            text = _text_of(message.get("content")) if line.get("type") == "user" else None
            if text:
                digest = _hash(text)
                if digest not in self._launches:
                    self._scan_parent(path, session)
                label = self._launches.get(digest)
        if line.get("uuid"):
            agent_of[line["uuid"]] = label
        return label

    def _scan_parent(self, path: Path, session: str) -> None:
        """For a subagent file read without its session file: find the launching calls there."""
        if path.parent.name == "subagents":
            parent = path.parent.parent.with_suffix(".jsonl")
        elif path.name.startswith("agent-"):
            parent = path.parent / f"{session}.jsonl"
        else:
            return
        if parent in self._scanned_parents or not parent.is_file():
            return
        self._scanned_parents.add(parent)
        with parent.open("rb") as handle:
            for raw in handle:
                if b'"subagent_type"' not in raw:
                    continue
                try:
                    content = json.loads(raw)["message"]["content"]
                    for block in content:
                        tool_input = block.get("input") or {}
                        if block.get("type") == "tool_use" and block.get("name") in AGENT_TOOLS and tool_input.get("subagent_type"):
                            self._launches[_hash(str(tool_input.get("prompt") or ""))] = str(tool_input["subagent_type"])
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue

    @staticmethod
    def _tool_event(tool_id: str, name: str, when: datetime, session: str, project: str | None,
                    success: bool | None, duration: float | None, attributes: dict) -> dict:
        return {"type": "tool_execution", "event_id": stable_id(ID_NS, "tool", tool_id), "timestamp": when,
                "session_id": session, "project": project, "tool_name": name, "success": success,
                "duration_ms": duration, "attributes": attributes}

    def _request_event(self, r: _Request, stats: ParseStats) -> dict:
        usage = r.usage
        written = usage.get("cache_creation_input_tokens") or 0
        split = usage.get("cache_creation")
        unsplit = 0
        if isinstance(split, dict):
            w1h = split.get("ephemeral_1h_input_tokens") or 0
            w5m = split.get("ephemeral_5m_input_tokens") or 0
            if w5m + w1h != written:
                stats.bump("cache_split_mismatch")
                w5m = max(written - w1h, 0)
        else:  # older files: no split; kept apart, priced as 5m writes (§3.4)
            w5m, w1h, unsplit = 0, 0, written
        tokens = (usage.get("input_tokens") or 0, usage.get("output_tokens") or 0, w5m + unsplit, w1h,
                  usage.get("cache_read_input_tokens") or 0)
        price, version = self.prices.lookup(r.model, r.when.date())
        attributes = {**r.meta, "message_id": r.message_id, "stop_reason": r.stop, "chunks": r.lines}
        for name in ("service_tier", "speed"):
            if usage.get(name):
                attributes[name] = usage[name]
        if r.stop is None:
            attributes["interrupted"] = True
            stats.bump("interrupted_requests")
        cost = None
        if price is None:
            stats.bump("unknown_model")
            if r.model not in self._warned:
                self._warned.add(r.model)
                log.warning("no price for model %r: its requests get no cost", r.model)
        else:
            cost = price.cost(*tokens)
            attributes.update(price_version=version, cost_basis="api_list_price_estimate")
            if usage.get("speed") == "fast":
                stats.bump("fast_mode_priced_standard")
        stats.bump("api_requests")
        return {"type": "api_request", "event_id": stable_id(ID_NS, "request", r.key), "request_id": r.request_id,
                "timestamp": r.when, "session_id": r.session, "project": r.project, "model": r.model, "agent": r.agent,
                "input_tokens": tokens[0], "output_tokens": tokens[1], "cache_write_5m_tokens": w5m,
                "cache_write_1h_tokens": w1h, "cache_write_unsplit_tokens": unsplit, "cache_read_tokens": tokens[4],
                "cost_usd": cost,
                "attributes": {k: v for k, v in attributes.items() if v is not None}}


def _line(raw: bytes) -> dict:
    """One JSON object line. orjson first (several times faster); a line it refuses (invalid
    UTF-8, NaN, integers beyond 64 bits, or not JSON) goes through the standard library as before:
    invalid bytes become U+FFFD, and its error names the position."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        line = _decode(raw.decode("utf-8", errors="replace"))
    if not isinstance(line, dict):
        raise LineError(f"a JSON {type(line).__name__}, not an object")
    return line


def _api_error(line: dict, message: dict, when: datetime, session: str, project: str | None, agent: str | None,
               meta: dict) -> dict:
    """A `<synthetic>` placeholder line: the API call failed and Claude Code wrote its error (e.g.
    `API Error: 529 Overloaded`) where the answer would have been."""
    text = _text_of(message.get("content")) or ""
    status = _STATUS.search(text)
    attributes = {**meta, "synthetic": True, "agent": agent, "message_id": message.get("id")}
    return {"type": "api_error", "event_id": stable_id(ID_NS, "api_error", line.get("uuid") or f"{session}:{when.isoformat()}"),
            "timestamp": when, "session_id": session, "project": project, "model": None,
            "status_code": int(status.group(1)) if status else None, "error": text.strip()[:500] or None,
            "attributes": {k: v for k, v in attributes.items() if v is not None}}
