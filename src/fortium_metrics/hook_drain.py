"""`fortium-metrics hook --drain`: delivers the command hook's spool (data_dir/hook-spool), oldest
first, then waits `linger` seconds for more before it exits, so a burst of tool calls costs one
start-up. The hook starts it detached (hook_cli.start_drain); it holds drain.lock while it runs.

* forwarder mode (FORTIUM_API_URL + FORTIUM_API_KEY): `POST {api_url}/api/v1/metrics/batch`, what
  mcp/forwarder.py sends, with the same answers: a network error, 408, 429, 5xx, 401 or 403 leaves
  the batch queued for the next attempt; another 4xx sets the batch aside in
  spool.rejected.jsonl; items refused in a 200 answer are set aside one by one. It uses only the
  standard library (urllib), so an attempt during an outage costs a few milliseconds of CPU.
* embedded mode: `record_events` into the local store as the local user, as `fortium-metrics mcp`
  does (SQLite in data_dir unless FORTIUM_DATABASE_URL says otherwise).

The spool lock is held only while the spool files change, never during a delivery, so the hook
never waits for the network or the database. A problem is logged in data_dir/hook.log when it
starts (or changes), not on every call, and one line when delivery resumes (`DeliveryState`).
"""
from __future__ import annotations

import json
import os
import time

from . import environment
from .hook_cli import SPOOL_DIR, hook_logger, take_drain_lock
from .mcp.spool import Spool

BATCH_PATH = "/api/v1/metrics/batch"  # as mcp/forwarder.py
TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.2
PROBLEM_FILE = "delivery.problem"


class Unavailable(Exception):
    """Delivery cannot happen now; the batch stays queued."""


class Refused(Exception):
    """The server will never accept this batch: it is set aside."""


def drain(data_dir: str, linger: float, lock_fd: int | None) -> None:
    if lock_fd is not None:  # started by the hook: keep only the lock it handed over
        os.closerange(3, lock_fd)
        os.closerange(lock_fd + 1, 1 << 16)
    log = hook_logger(data_dir)
    spool = Spool(os.path.join(data_dir, SPOOL_DIR))
    target = environment.forwarding_to()
    sink = ServerSink(*target) if target else StoreSink()
    held = [lock_fd if lock_fd is not None else take_drain_lock(spool.directory, wait=True)]

    def let_go() -> None:
        if held:
            os.close(held.pop())  # closing releases the flock

    try:
        _deliver_while_busy(spool, sink, DeliveryState(spool.directory, log), linger, let_go)
    finally:
        let_go()
        sink.close()


def _deliver_while_busy(spool: Spool, sink, state: DeliveryState, linger: float, let_go) -> None:
    """Deliver, then whatever new hooks append, until `linger` seconds pass with nothing new or
    delivery must wait. The lock is let go under the spool lock once nothing is pending: a hook
    appends under that lock too, so it either appended before (and its event is delivered here) or
    finds drain.lock free afterwards (and starts a new process)."""
    quiet_since = time.monotonic()
    while True:
        if spool.has_pending():
            if not deliver(spool, sink, state):
                return
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= linger:
            with spool.hold():
                if not spool.has_pending():
                    let_go()
                    return
        else:
            time.sleep(POLL_SECONDS)


def deliver(spool: Spool, sink, state: DeliveryState) -> bool:
    """Send the spool, oldest batch first, until it is empty (True) or delivery must wait (False)."""
    sent = 0
    while True:
        with spool.hold():
            entry = spool.head()
        if entry is None:
            state.resolved(sent)
            return True
        batch, next_offset = entry
        whole_batch = None
        try:
            refused = sink.send(batch)
        except Refused as error:
            state.log.error("%s", error)
            refused, whole_batch = {}, str(error)
        except Exception as error:  # noqa: BLE001 — whatever it is, the batch stays queued
            state.failed(error)
            return False
        with spool.hold():
            if whole_batch is not None:
                spool.reject(batch, whole_batch)
            for index, reasons in refused.items():
                state.log.error("queued event %d was refused and set aside: %s", index, "; ".join(reasons))
                spool.reject([batch[index]], "; ".join(reasons))
            spool.advance(next_offset)
        sent += 1


class DeliveryState:
    """`delivery.problem` in the spool directory: the problem the last attempt met. Each hook call
    may start an attempt, so the problem is logged when it first appears (or changes), and a line
    when everything queued has been delivered again."""

    def __init__(self, directory: str, log) -> None:
        self.path = os.path.join(directory, PROBLEM_FILE)
        self.directory = directory
        self.log = log

    def failed(self, error: Exception) -> None:
        reason = str(error) if isinstance(error, Unavailable) else f"delivery failed: {type(error).__name__}: {error}"
        reason = reason[:500]  # a database error can quote a whole statement
        if self._reason() != reason:
            self.log.warning("%s; events stay queued in %s and are delivered when this is resolved",
                             reason, self.directory)
            temporary = self.path + ".tmp"
            with open(temporary, "w") as handle:
                handle.write(reason)
            os.replace(temporary, self.path)

    def resolved(self, batches: int) -> None:
        if self._reason() is not None:
            self.log.info("delivery resumed: %d queued batch(es) delivered", batches)
            os.unlink(self.path)

    def _reason(self) -> str | None:
        try:
            with open(self.path) as handle:
                return handle.read()
        except FileNotFoundError:
            return None


class ServerSink:
    """The forwarder's REST call, with the standard library."""

    def __init__(self, api_url: str, api_key: str) -> None:
        import urllib.request

        class NoRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # as httpx: a redirect is an answer
                return None

        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.opener = urllib.request.build_opener(NoRedirects)  # with the environment's proxies, as httpx

    def send(self, batch: list[dict]) -> dict[int, list[str]]:
        """Reasons per refused item; raises Unavailable (try later) or Refused (set aside)."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.api_url + BATCH_PATH, data=json.dumps({"events": batch}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except (OSError, ValueError) as error:  # URLError, refused, reset, timeout; http.client errors
            cause = getattr(error, "reason", error)
            raise Unavailable(f"server unreachable: {self.api_url} ({type(cause).__name__})") from None
        if status == 200:
            refused: dict[int, list[str]] = {}
            for item in json.loads(body).get("errors") or []:
                refused.setdefault(item["index"], []).append(item["message"])
            return refused
        message = _error_message(body)
        if status in (408, 429) or status >= 500:
            raise Unavailable(f"server unavailable: {self.api_url} answered {status}: {message}")
        if status == 401:
            raise Unavailable(f"the server refused FORTIUM_API_KEY ({message}); set a valid key")
        if status == 403:
            raise Unavailable(f"the server refused the request ({message})")
        raise Refused(f"the server refused the batch ({status}: {message})")

    def close(self) -> None:
        pass


def _error_message(body: bytes) -> str:
    try:
        return json.loads(body)["error"]["message"]
    except Exception:  # noqa: BLE001 — not our envelope (a proxy's page): show the start of it
        return body[:200].decode(errors="replace")


class StoreSink:
    """`record_events` into the local store as the local user, on one event loop kept for the
    process's life (the store is opened on the first batch, not for an empty spool)."""

    def __init__(self) -> None:
        self.runner = None
        self.app = None
        self.principal = None

    def send(self, batch: list[dict]) -> dict[int, list[str]]:
        import asyncio

        from .ingest import record_events

        if self.runner is None:
            self.runner = asyncio.Runner()
        if self.principal is None:
            self.runner.run(self._open())
        result = self.runner.run(record_events(self.app.ingestor, self.principal, batch, "hook", strict_teams=False))
        refused: dict[int, list[str]] = {}
        for error in result.errors:
            refused.setdefault(error.index, []).append(error.message)
        return refused

    async def _open(self) -> None:
        import asyncio

        from . import migrate_if_sqlite
        from .config import load_settings
        from .context import AppContext
        from .local import ensure_local_principal

        settings = load_settings()
        await asyncio.to_thread(migrate_if_sqlite, settings)
        if self.app is None:
            self.app = AppContext.build(settings)
        self.principal = await ensure_local_principal(self.app.store)

    def close(self) -> None:
        if self.runner is None:
            return
        try:
            if self.app is not None:
                self.runner.run(self.app.close())
        finally:
            self.runner.close()
