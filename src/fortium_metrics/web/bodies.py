"""Reading request bodies and query strings into plain values, with errors that name the field.

Every JSON body is checked for nesting before it is parsed (`check_depth`): parsers and the code
after them recurse, and a body nested thousands of levels deep was a RecursionError (a 500 and a
reset connection). Large bodies are scanned and parsed in a worker thread (`off_loop`), so one big
upload does not stall every other request of the process.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..errors import Invalid
from ..ingest import MAX_BATCH
from .errors import PayloadTooLarge, UnsupportedMediaType

Q = TypeVar("Q", bound=BaseModel)
T = TypeVar("T")
MAX_JSON_DEPTH = 64  # arrays and objects inside each other; real bodies use fewer than 10
OFF_LOOP_BYTES = 256 * 1024  # above this, scanning and parsing run in a worker thread
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")  # one left-to-right pass: a pair it leaves behind waits for the next


def check_depth(raw: bytes, field: str = "body") -> None:
    """Invalid when the JSON text nests arrays/objects deeper than MAX_JSON_DEPTH, decided on the
    bytes before any parser recurses. Strings are cut out first (escaped backslashes and quotes,
    then everything between quotes), so brackets inside strings do not count; what remains is
    only brackets, and each pass removes every innermost pair, so the passes needed are the depth.
    Text that is not JSON may stop early; the parser then reports it."""
    unquoted = raw.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2]
    brackets = b"".join(unquoted).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        inner = _INNERMOST.sub(b"", brackets)
        if len(inner) == len(brackets):
            return  # empty (depth within the limit) or not balanced (not JSON: the parser says so)
        brackets = inner
    if brackets:
        raise Invalid(f"{field}: JSON nested deeper than {MAX_JSON_DEPTH} levels", field=field)


async def off_loop(function: Callable[..., T], raw: bytes, *args: Any, always: bool = False) -> T:
    """`function(raw, *args)`, in a worker thread when `raw` is large (or `always`): CPU-heavy
    decoding of a big body must not hold the event loop (health checks and other requests wait
    behind it)."""
    if len(raw) < OFF_LOOP_BYTES and not always:
        return function(raw, *args)
    return await anyio.to_thread.run_sync(function, raw, *args)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_json_bytes(request: Request) -> bytes:
    """The body, not yet parsed: refused unless it is declared JSON (a missing Content-Type is
    taken as JSON: old hook clients, scripts), so a form post gets a clear 415, and refused when
    empty or nested deeper than MAX_JSON_DEPTH."""
    content_type = request.headers.get("content-type")
    if content_type and not _is_json(content_type):
        raise UnsupportedMediaType(f"body: send JSON with Content-Type: application/json (got {content_type!r})",
                                   field="body")
    raw = await request.body()
    if not raw.strip():
        raise Invalid("body: empty; expected JSON", field="body")
    await off_loop(check_depth, raw)
    return raw


def loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)  # several times faster than json on 1000-event batches
    except orjson.JSONDecodeError as error:
        try:  # JSON orjson does not take (numbers beyond 64 bits or doubles): validation then names the field
            return json.loads(raw)
        except ValueError:
            raise Invalid(f"body: not valid JSON ({error})", field="body") from None


async def read_json(request: Request) -> Any:
    """The body as JSON (see read_json_bytes)."""
    return await off_loop(loads, await read_json_bytes(request))


def check_batch_size(items: list, field: str = "events") -> None:
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge(f"{field}: at most {MAX_BATCH} events per request (got {len(items)}); "
                              "split the batch", field=field)


def validated(model: type[Q], data: Any, what: str = "body") -> Q:
    """`data` through a pydantic model; the first error names the field (or parameter)."""
    if not isinstance(data, dict):
        raise Invalid(f"{what}: expected a JSON object", field=what)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error, what) from None


def invalid(error: ValidationError, what: str = "body") -> Invalid:
    """A pydantic error as our Invalid, naming the field (or parameter) of its first problem."""
    detail = error.errors()[0]
    name = ".".join(str(p) for p in detail["loc"]) or what
    unknown = "unknown parameter" if what == "query" else "unknown field"
    message = unknown if detail["type"] == "extra_forbidden" else detail["msg"]
    return Invalid(f"{name}: {message}", field=name)


def parse_query(request: Request, model: type[Q]) -> Q:
    """Query parameters (the last of repeated ones) through a pydantic model."""
    return validated(model, dict(request.query_params), "query")


B = TypeVar("B", bound=BaseModel)


async def parse_body(request: Request, model: type[B]) -> B:
    """A JSON body through a pydantic model; every error names its field (the first one leads)."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = error.errors()
        name = ".".join(str(p) for p in details[0]["loc"]) or "body"
        message = "; ".join(f"{'.'.join(str(p) for p in d['loc']) or 'body'}: "
                            f"{'unknown field' if d['type'] == 'extra_forbidden' else d['msg']}" for d in details)
        raise Invalid(message, field=name) from None
