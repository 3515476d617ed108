"""The web app in-process, and `fortium-metrics serve` as a real process on a fresh data dir."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings


def test_dashboard_root_and_healthz_answer(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path))
    settings = load_settings(database_url=backend.url)
    with TestClient(create_app(settings)) as client:
        root = client.get("/")  # signed out: redirected to the sign-in page
        assert root.status_code == 200 and root.url.path == "/login" and "fortium-metrics" in root.text
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["database"] == "ok" and health.json()["dialect"] == backend.url.split(":")[0].split("+")[0]


def test_an_unreachable_database_is_not_ready_but_the_process_is_alive(tmp_path, monkeypatch):
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path))
    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        health, ready = client.get("/healthz"), client.get("/readyz")
    # Liveness stays 200 (restarting would not bring the database back); readiness is 503.
    assert health.status_code == 200 and health.json()["database"].startswith("unavailable")
    assert ready.status_code == 503 and ready.json()["not_ready"] == ["database", "migrations"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_on_a_fresh_sqlite_file_with_no_configuration(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
    env["FORTIUM_DATA_DIR"] = str(tmp_path / "data")
    cli = Path(sys.executable).parent / "fortium-metrics"
    process = subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["dialect"] == "sqlite"
        root = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True)  # signed out: the sign-in page
        assert root.status_code == 200 and root.url.path == "/login"
        assert (tmp_path / "data" / "fortium.db").exists() and (tmp_path / "data" / "secret_key").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)
