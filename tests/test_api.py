"""The HTTP API end to end: a real ``rag serve`` subprocess on loopback (MiniLM, SmolLM2,
FAISS, SQLite), driven through the SDK and plain httpx."""

from __future__ import annotations

import asyncio
import json
import shutil

import httpx
import pytest

from rag.client import (
    AsyncRAGClient,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    RAGClient,
    Unauthorized,
    UnsupportedMediaType,
)
from tests.api_server import running_server
from tests.conftest import dataset

pytestmark = pytest.mark.slow

KEY = "test-key-123"
COLLECTION = "handbook"
POLICY = """# Vacation policy

Every employee gets 27 vacation days per calendar year.
Unused vacation days expire on the 31st of March of the following year.
Requests for vacation go to your manager at least two weeks in advance.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_home):
    home = tmp_path_factory.mktemp("api-home")
    with running_server(home, models_home, env={"RAG_API_KEY": KEY, "RAG_MAX_UPLOAD_MB": "1"}) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with RAGClient(server, api_key=KEY, timeout=120, retries=2, backoff=0.1) as c:
        yield c


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    (folder / "Vacation policy.md").write_text(POLICY)
    shutil.copy(dataset("financebench", "pdfs", "PEPSICO_2023_8K_dated-2023-05-05.pdf"), folder / "pepsico 8-K.pdf")
    return [folder / "Vacation policy.md", folder / "pepsico 8-K.pdf"]


@pytest.fixture(scope="module")
def ingested(client, files):
    """The collection with both files ingested; returns the finished job."""
    info = client.create_collection(COLLECTION)
    assert (info.name, info.documents, info.dimension) == (COLLECTION, 0, 384)
    job = client.upload(COLLECTION, files)
    assert job.state in ("queued", "running") and job.files_total == 2
    return client.wait_for_job(job.job_id, timeout=120, poll=0.2)


def test_upload_runs_a_job_and_lists_documents(client, ingested):
    assert ingested.state == "succeeded", ingested.error
    assert ingested.files_done == 2
    assert sorted(r.path for r in ingested.results) == ["Vacation policy.md", "pepsico 8-K.pdf"]
    assert ingested.summary is not None and ingested.summary.ingested == 2 and ingested.summary.chunks > 0

    docs = client.list_documents(COLLECTION)
    assert len(docs) == 2 and all(d.chunks > 0 for d in docs)
    assert {d.kind for d in docs} == {"markdown", "pdf"}
    assert any(d.source.endswith("Vacation policy.md") for d in docs)
    assert [c.name for c in client.list_collections()] == [COLLECTION]


def test_retrieve(client, ingested):
    found = client.retrieve(COLLECTION, "how many vacation days do employees get", k=3)
    assert found.collection == COLLECTION and 1 <= len(found.hits) <= 3
    assert "27 vacation days" in found.hits[0].text


def test_ask_json(client, ingested):
    response = client.ask(COLLECTION, "How many vacation days does every employee get per year?", max_tokens=32)
    assert response.collection == COLLECTION and response.passages
    assert response.answer and "retrieve" in response.timings
    if response.answerable:
        assert response.model
        for c in response.citations:
            assert c.quote and c.doc_id in {d.doc_id for d in client.list_documents(COLLECTION)}


def test_ask_stream_events_in_order(client, http, ingested):
    # A client that goes away mid-stream must not leave the generator busy (its lock
    # is held by the producing thread until the stream is closed there).
    with http.stream("POST", f"/v1/collections/{COLLECTION}/ask", json={"query": "vacation days?", "stream": True,
                                                                         "max_tokens": 64}) as aborted:
        assert aborted.headers["content-type"].startswith("text/event-stream")
        assert next(aborted.iter_lines()) == "event: passages"

    events = list(client.ask_stream(COLLECTION, "How many vacation days does every employee get per year?",
                                    max_tokens=32))
    kinds = [e.event for e in events]
    assert kinds[0] == "passages" and events[0].passages
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert set(kinds[1:-1]) <= {"token"}
    done = events[-1].response
    if done.answerable:  # an abstaining model streams no token
        assert "token" in kinds
        assert "".join(e.delta for e in events if e.event == "token").strip()


def test_errors_are_structured_and_touch_nothing(client, http, ingested, tmp_path):
    before = [(c.name, c.documents) for c in client.list_collections()]

    def error(response, status, type_):
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and body["error"]["type"] == type_ and body["error"]["message"]
        assert "Traceback" not in response.text
        return body["error"]

    error(http.post("/v1/collections/nope/ask", json={"query": "hi"}), 404, "not_found")
    error(http.post(f"/v1/collections/{COLLECTION}/ask", json={"query": ""}), 422, "invalid_input")
    error(http.post(f"/v1/collections/{COLLECTION}/ask", json={"query": "   "}), 400, "invalid_input")
    error(http.post(f"/v1/collections/{COLLECTION}/ask", json={"query": "x", "k": 0}), 422, "invalid_input")
    msg = error(http.post(f"/v1/collections/{COLLECTION}/ask", content=b'{"query": ',
                          headers={"Content-Type": "application/json"}), 400, "invalid_input")
    assert "JSON" in msg["message"]
    error(http.get("/v1/no/such/route"), 404, "not_found")
    error(http.put("/v1/collections"), 405, "method_not_allowed")
    error(http.get("/v1/jobs/unknown"), 404, "not_found")
    error(http.delete(f"/v1/collections/{COLLECTION}/documents/999999"), 404, "not_found")
    error(http.post("/v1/collections", json={"name": "bad name!"}), 400, "invalid_input")
    error(http.post("/v1/collections", json={"name": COLLECTION}), 409, "conflict")

    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UnsupportedMediaType) as unsupported:
        client.upload(COLLECTION, [exe])
    assert unsupported.value.status == 415 and ".pdf" in unsupported.value.body["supported"]

    big = tmp_path / "big.txt"
    big.write_text("lorem ipsum " * 110_000)  # 1.3 MB > RAG_MAX_UPLOAD_MB=1
    with pytest.raises(PayloadTooLarge) as too_large:
        client.upload(COLLECTION, [big])
    assert too_large.value.status == 413

    note = tmp_path / "note.md"
    note.write_text("# Note\n\nHello.\n")
    with pytest.raises(NotFound):  # an upload to an unknown collection does not create it
        client.upload("ghost", [note])
    with pytest.raises(BadRequest) as bad:
        client.ask(COLLECTION, "")
    assert bad.value.type == "invalid_input" and "query" in bad.value.message

    assert [(c.name, c.documents) for c in client.list_collections()] == before
    assert http.get("/healthz").json()["status"] == "ok"


def test_auth_is_required_on_v1_only(server):
    open_ = httpx.get(server + "/v1/collections")
    assert open_.status_code == 401 and open_.json()["error"]["type"] == "unauthorized"
    wrong = httpx.get(server + "/v1/collections", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.get(server + "/healthz").status_code == 200
    assert httpx.get(server + "/readyz").json()["status"] == "ok"
    with RAGClient(server, retries=0) as anonymous, pytest.raises(Unauthorized):
        anonymous.list_collections()


def test_metrics_and_openapi(http, ingested):
    spec = http.get("/openapi.json").json()
    for path in ("/v1/collections/{name}/ask", "/v1/collections/{name}/documents", "/v1/jobs/{job_id}",
                 "/v1/chat/completions", "/healthz"):
        assert path in spec["paths"]
    text = http.get("/metrics").text
    assert 'rag_http_requests_total{method="POST",route="/v1/collections/{name}/documents",status="202"}' in text
    assert 'rag_ingest_jobs_total{state="succeeded"}' in text
    assert "rag_ask_duration_seconds_count" in text


def test_openai_facade(http, ingested):
    models = http.get("/v1/models").json()
    assert f"rag:{COLLECTION}" in [m["id"] for m in models["data"]]

    body = {"model": f"rag:{COLLECTION}", "max_tokens": 16,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "How many vacation days does every employee get per year?"}]}
    reply = http.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["object"] == "chat.completion" and data["model"] == f"rag:{COLLECTION}"
    assert data["choices"][0]["message"]["role"] == "assistant" and data["choices"][0]["message"]["content"]

    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as stream:
        assert stream.status_code == 200
        datas = [line[len("data: "):] for line in stream.iter_lines() if line.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks).strip()

    missing = http.post("/v1/chat/completions", json={**body, "model": "rag:nope"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


def test_async_client(server, ingested):
    async def run():
        async with AsyncRAGClient(server, api_key=KEY, timeout=120) as c:
            assert (await c.health()).status == "ok"
            assert COLLECTION in [x.name for x in await c.list_collections()]
            found = await c.retrieve(COLLECTION, "vacation days", k=2)
            events = [e async for e in c.ask_stream(COLLECTION, "How many vacation days?", max_tokens=16)]
            with pytest.raises(NotFound):
                await c.list_documents("nope")
            return found, events

    found, events = asyncio.run(run())
    assert found.hits
    assert events[0].event == "passages" and events[-1].event == "done"


def test_delete_document_and_collection(client, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\nVisitors park in lot C, next to the loading dock.\n")
    client.create_collection("scratch")
    job = client.wait_for_job(client.upload("scratch", [note]).job_id, timeout=60, poll=0.2)
    assert job.state == "succeeded", job.error
    (doc,) = client.list_documents("scratch")
    client.delete_document("scratch", doc.doc_id)
    assert client.list_documents("scratch") == []
    with pytest.raises(NotFound):
        client.delete_document("scratch", doc.doc_id)
    client.delete_collection("scratch")
    assert "scratch" not in [c.name for c in client.list_collections()]
    with pytest.raises(NotFound):
        client.delete_collection("scratch")
