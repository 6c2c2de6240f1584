"""Request ids, JSON request logs and stage metrics on a real server; the `rag keys` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from rag.auth import KeyStore
from tests.api_server import running_server
from tests.conftest import ROOT


@pytest.mark.slow
def test_request_ids_json_logs_and_stage_histograms(tmp_path, models_home):
    home = tmp_path / "home"
    with running_server(home, models_home, args=("--no-warm-up", "--log-level", "info"), wait_for="/healthz") as url:
        with httpx.Client(base_url=url, timeout=120) as http:
            echoed = http.get("/v1/collections", headers={"X-Request-ID": "trace-42.a"})
            assert echoed.headers["x-request-id"] == "trace-42.a"
            replaced = http.get("/v1/collections", headers={"X-Request-ID": "no spaces\tor tabs"})
            assert replaced.headers["x-request-id"] != "no spaces\tor tabs" and len(replaced.headers["x-request-id"]) == 32
            refused = http.get("/v1/collections", headers={"Host": "evil.example"})
            assert refused.status_code == 400 and refused.headers["x-request-id"]
            assert http.post("/v1/collections", json={"name": "docs"}).status_code == 201
            assert http.post("/v1/collections/docs/retrieve", json={"query": "anything"}).status_code == 200
            metrics = http.get("/metrics").text
        assert 'rag_stage_duration_seconds_count{stage="retrieve"} 1.0' in metrics
    lines = [json.loads(line) for line in (home / "server.log").read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "rag.api.access"]
    traced = [line for line in requests if line["request_id"] == "trace-42.a"]
    assert traced and traced[0]["route"] == "/v1/collections" and traced[0]["status"] == 200
    assert any(line["status"] == 400 and line["route"] == "unmatched" for line in requests)


def _rag(home, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "rag.cli.main", "keys", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_keys_cli_creates_lists_and_revokes(tmp_path):
    made = _rag(tmp_path, "create", "--name", "ci", "--role", "writer", "-c", "hr-*", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    store = KeyStore(tmp_path / "auth" / "keys.sqlite3")
    assert store.verify(key).can_write("hr-2024") and not store.verify(key).can_read("finance")
    assert key not in (tmp_path / "auth" / "keys.sqlite3").read_bytes().decode("latin-1")  # stored hashed
    listed = _rag(tmp_path, "list")
    assert "ci" in listed.stdout and "writer" in listed.stdout and key not in listed.stdout
    no_grant = _rag(tmp_path, "create", "--name", "x", "--role", "reader")
    assert no_grant.returncode == 2 and "grant" in no_grant.stderr and "Traceback" not in no_grant.stderr
    assert _rag(tmp_path, "revoke", key.split("_")[1]).returncode == 0
    assert store.verify(key) is None
    assert _rag(tmp_path, "revoke", "nosuchid").returncode == 3
