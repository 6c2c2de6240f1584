"""Load and concurrency against a real server (SmolLM2 answers), bounded in time.

The full benchmark is ``python -m benchmarks.load`` (32 clients, 60 s); these runs are
shorter: ``RAG_LOAD_SECONDS`` (default 20) of mixed asks, searches and uploads from 32
clients (4 of them ask: SmolLM2 answers one at a time), then the same with clients
deleting and recreating the collection meanwhile.
"""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import load
from tests.api_server import start_server

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("RAG_LOAD_SECONDS", "20"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_home):
    server = start_server(tmp_path_factory.mktemp("load-home"), models_home,
                          env={"RAG_RATE_LIMIT_PER_MINUTE": "0"})
    yield server
    server.stop()


def test_32_clients_mixed_load(server):
    summary = load.run(server.url, clients=32, seconds=SECONDS, collection="load", askers=4)
    print("load:", json.dumps({k: summary[k] for k in ("requests", "throughput_rps", "5xx", "statuses",
                                                      "uploads_acknowledged", "latency")}))
    assert summary["5xx"] == 0 and not summary["server_errors"], summary["server_errors"]
    assert not summary["uploads_lost"], summary["uploads_lost"][:5]
    assert summary["latency"]["ask"]["n"] > 0 and summary["latency"]["upload"]["n"] > 0
    assert set(summary["statuses"]) <= {"200", "201", "202"}, summary["statuses"]


def test_ask_upload_delete_recreate_at_once(server):
    summary = load.run(server.url, clients=16, seconds=SECONDS, collection="churn", churn=True, askers=4)
    print("churn:", json.dumps({k: summary[k] for k in ("requests", "5xx", "statuses")}))
    assert summary["5xx"] == 0 and not summary["server_errors"], summary["server_errors"]
    assert {op for op in summary["latency"]} >= {"ask", "upload", "delete", "create"}
    assert int(summary["statuses"].get("204", 0)) > 0  # deletes did happen while others asked
