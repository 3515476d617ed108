"""Schemathesis fuzzes the REST API of a live server through its own OpenAPI document, on both
databases: no server error, no response outside the schema, no undocumented status, methods and
Allow headers that match, valid requests accepted and invalid ones refused (exceptions, with their
reasons, in tests/fuzz/schemathesis.toml). Bounded and repeatable: a fixed seed, a fixed number of
examples per operation, one worker. Any finding fails the test, and with it CI."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from sqlalchemy import delete

from fortium_metrics import apikeys, users
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import AgentSession

pytestmark = pytest.mark.anyio
CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
PHASES = ("examples", "coverage", "fuzzing")
# Operations whose effects reach every later request (a revoked key; an organisation-wide policy
# such as refusing unknown users): fuzzed in a run of their own, in another organisation.
ISOLATED = ("delete_api_keys_key_id", "put_api_org")
SEED = 20261204
EXAMPLES_PER_OPERATION = 20


@pytest.fixture
def no_rate_limit(monkeypatch):
    """The run sends thousands of requests a minute; a 429 would hide what it should see."""
    monkeypatch.setenv("FORTIUM_RATE_LIMIT", "off")


async def fresh_admin_key(store, organization_id, phase: str) -> str:
    """An admin of its own per phase: whatever a phase does to users and keys (demote, deactivate,
    rename) cannot take the next phase's credential with it. The examples' sessions go too: a
    session belongs to the first person to start or end it, so the previous phase's admin would
    own them and this phase's items carrying their ids would rightly be refused."""
    async with store.unit_of_work(Principal.org_admin(organization_id)) as uow:
        await uow.session.execute(delete(AgentSession))
        user = await users.create_user(uow, f"fuzz-{phase}@a.test", f"Fuzz {phase}", "admin")
        return (await apikeys.create_api_key(uow, f"fuzz {phase}", ["ingest", "read", "admin"], str(user.id))).secret


def run_fuzzer(base_url: str, key: str, phase: str, workdir: Path, isolated: bool) -> subprocess.CompletedProcess:
    which = [f"--{'include' if isolated else 'exclude'}-operation-id={operation}" for operation in ISOLATED]
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{base_url}/api/v1/openapi.json", *which,
               "-H", f"Authorization: Bearer {key}", "--phases", phase, "--seed", str(SEED),
               "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1", "--generation-database", "none",
               "--request-timeout", "30", "--no-color"]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONHASHSEED": "0"})


async def test_the_fuzzer_finds_nothing(no_rate_limit, live_server, store, people, tmp_path):
    runs = [(phase, people.org_a, False) for phase in PHASES] + [(",".join(PHASES), people.org_b, True)]
    for phase, organization, isolated in runs:
        key = await fresh_admin_key(store, organization, phase.replace(",", "-"))
        result = await anyio.to_thread.run_sync(
            functools.partial(run_fuzzer, live_server.url, key, phase, tmp_path, isolated))
        assert result.returncode == 0, f"schemathesis, {phase}:\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
        assert "Tested: 2\n" in result.stdout if isolated else "Tested: " in result.stdout
