"""Uploads against a real server: the same name replaces its document, identical content is
unchanged, staging folders are removed, and jobs survive a restart (resumed or interrupted)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from rag.client import RAGClient
from tests.api_server import start_server

pytestmark = pytest.mark.slow


def upload(client: RAGClient, path):
    job = client.wait_for_job(client.upload("docs", [path]).job_id, timeout=120, poll=0.1)
    assert job.state == "succeeded", job.error
    return job


def test_reupload_replaces_and_restart_resumes(tmp_path, models_home):
    home = tmp_path / "home"
    server = start_server(home, models_home, args=("--no-warm-up",), wait_for="/healthz")
    try:
        with RAGClient(server.url, timeout=120) as client:
            client.create_collection("docs")
            doc = tmp_path / "policy.txt"
            doc.write_text("Every employee gets 27 vacation days per calendar year.\n")
            assert upload(client, doc).results[0].status == "ingested"
            assert upload(client, doc).results[0].status == "unchanged"  # identical content
            doc.write_text("Every employee gets 31 vacation days per calendar year.\n")
            assert upload(client, doc).results[0].status == "replaced"
            docs = client.list_documents("docs")
            assert len(docs) == 1, [d.source for d in docs]
            hits = client.retrieve("docs", "How many vacation days per calendar year?").hits
            assert hits and "31" in hits[0].text and not any("27" in h.text for h in hits)
            uploads = home / "uploads" / "docs"
            assert sorted(p.name for p in uploads.iterdir() if p.name != ".staging") == ["policy.txt"]
            assert not list((uploads / ".staging").iterdir())  # cleaned up after each job
    finally:
        server.stop()

    # While it is down: one job left queued with its file staged, one whose file is gone,
    # both owned by a process that no longer exists (as after a kill -9).
    staged = home / "uploads" / "docs" / ".staging" / "job-resume"
    staged.mkdir(parents=True)
    (staged / "holidays.txt").write_text("The office is closed on 14 public holidays each year.\n")
    conn = sqlite3.connect(home / "jobs.sqlite")
    now = datetime.now(timezone.utc).isoformat()
    for job_id, name in (("job-resume", "holidays.txt"), ("job-lost", "gone.txt")):
        job = {"job_id": job_id, "collection": "docs", "state": "running", "files_total": 1, "created_at": now}
        files = [{"staged": str(home / "uploads/docs/.staging" / job_id / name),
                  "path": str(home / "uploads/docs" / name), "name": name}]
        conn.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?)",
                     (job_id, now, "running", 2**22 + 1, json.dumps(job), json.dumps(files)))
    conn.commit()
    conn.close()

    server = start_server(home, models_home, args=("--no-warm-up",), wait_for="/healthz")
    try:
        with RAGClient(server.url, timeout=120) as client:
            resumed = client.wait_for_job("job-resume", timeout=120, poll=0.1)
            assert resumed.state == "succeeded" and resumed.resumed, resumed
            lost = client.job("job-lost")
            assert lost.state == "interrupted" and "upload them again" in lost.error
            assert sorted(d.source.rsplit("/", 1)[-1] for d in client.list_documents("docs")) == [
                "holidays.txt", "policy.txt"]
            assert not staged.exists()
    finally:
        server.stop()
