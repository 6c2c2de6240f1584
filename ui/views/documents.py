"""The Documents page: collections, uploads with a progress bar, the document list."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import streamlit as st

from rag.client import RAGClient
from rag.schemas import CollectionInfo, IngestJob
from ui import guard, picker, render, state

#: File types the service ingests.
UPLOAD_TYPES = ["pdf", "txt", "md", "markdown", "html", "htm"]
FINISHED = ("succeeded", "failed")


def collections_section(client: RAGClient, infos: list[CollectionInfo], current: str | None) -> None:
    st.subheader("Collections")
    if infos:
        st.dataframe([{"name": c.name, "documents": c.documents, "chunks": c.chunks,
                       "embedding model": c.embedding_model, "created": c.created_at.strftime("%Y-%m-%d %H:%M")}
                      for c in infos], hide_index=True)
    create, delete = st.columns(2)
    with create, st.form("create-collection", clear_on_submit=True, border=True):
        name = st.text_input("New collection", placeholder="e.g. handbook", max_chars=64,
                             help="Letters, digits, '-' and '_'.")
        if st.form_submit_button("Create", icon=":material/add:") and name.strip():
            made = guard.call(f"create the collection “{name.strip()}”", client.create_collection, name.strip(),
                              key="create")
            if made:
                picker.select(made.name)
                st.session_state["flash"] = f"Created the collection “{made.name}”."
                st.rerun()
    with delete:
        if current:
            _delete_collection(client, current)


def _delete_collection(client: RAGClient, name: str) -> None:
    with st.container(border=True):
        st.markdown(f"Delete “{render.esc(name)}” with all its documents?", unsafe_allow_html=True)
        confirm = st.checkbox("Yes, delete it for good", key=f"confirm-delete-{name}")
        if st.button("Delete collection", key="delete-collection", type="primary", disabled=not confirm, icon=":material/delete:"):
            if guard.call(f"delete the collection “{name}”", client.delete_collection, name, key="delete-coll") \
                    is not guard.FAILED:
                picker.select(None)
                st.session_state["flash"] = f"Deleted the collection “{name}”."
                st.rerun()


def poll(client: RAGClient, job: IngestJob, bar, *, timeout: float, every: float = 0.5) -> IngestJob:
    """Follow an ingestion job, moving ``bar``, until it finishes (or ``timeout`` s pass)."""
    deadline = time.monotonic() + timeout
    while job.state not in FINISHED and time.monotonic() < deadline:
        bar.progress(job.files_done / max(1, job.files_total),
                     text=f"Ingesting… {job.files_done} of {job.files_total} files ({job.state})")
        time.sleep(every)
        job = client.job(job.job_id)
    bar.progress(1.0 if job.state in FINISHED else job.files_done / max(1, job.files_total),
                 text=f"{job.files_done} of {job.files_total} files — {job.state}")
    return job


def upload_files(client: RAGClient, collection: str, files) -> IngestJob:
    """Write the uploads under their own names into a temporary folder and send them."""
    with tempfile.TemporaryDirectory(prefix="rag-ui-") as tmp:
        paths = []
        for f in files:
            path = Path(tmp) / (Path(f.name).name or "upload")
            path.write_bytes(f.getvalue())
            paths.append(path)
        return client.upload(collection, paths)


def upload_section(client: RAGClient, collection: str) -> None:
    st.subheader(f"Upload to “{collection}”")
    gen = st.session_state.setdefault("uploader-gen", 0)
    files = st.file_uploader("Documents (PDF, text, Markdown, HTML)", type=UPLOAD_TYPES,
                             accept_multiple_files=True, key=f"uploader-{gen}")
    if st.button("Upload and ingest", disabled=not files, type="primary", icon=":material/upload:", key="upload"):
        job = guard.call("upload the files", upload_files, client, collection, files, key="upload")
        if job:
            bar = st.progress(0.0, text="Uploaded; waiting for ingestion…")
            job = guard.call("follow the ingestion", poll, client, job, bar, timeout=state.config().timeout,
                             key="poll")
            if job:
                st.session_state["last-job"] = job
                st.session_state["uploader-gen"] = gen + 1  # empties the uploader
                st.rerun()
    job = st.session_state.get("last-job")
    if job is not None and job.collection == collection:
        show_job(job)


def show_job(job: IngestJob) -> None:
    """The per-file results of an ingestion, failures with their reasons."""
    if job.state not in FINISHED:
        st.warning(f"Ingestion is still {job.state} ({job.files_done} of {job.files_total} files); "
                   "the list below updates when it finishes.")
    elif job.state == "failed":
        st.error(f"Ingestion failed: {job.error or 'see the files below'}")
    failed = [r for r in job.results if r.status == "failed"]
    done = len(job.results) - len(failed)
    if job.state == "succeeded":
        st.success(f"Ingested {done} of {len(job.results)} files.")
    for r in failed:
        st.error(f"**{render.esc(Path(r.path).name)}** failed: {r.reason or 'no reason given'}")
    if job.results:
        st.dataframe([{"file": Path(r.path).name, "status": r.status, "pages": r.pages, "chunks": r.chunks,
                       "seconds": round(r.seconds, 2), "reason": r.reason or ""} for r in job.results],
                     hide_index=True)


def documents_section(client: RAGClient, collection: str) -> None:
    st.subheader("Documents")
    docs = guard.call("list the documents", client.list_documents, collection, key="docs")
    if docs is guard.FAILED:
        return
    if not docs:
        st.info("No documents yet: upload some above.")
        return
    st.dataframe([{"title": d.title, "kind": d.kind, "pages": d.pages, "chunks": d.chunks,
                   "source": Path(d.source).name, "tags": ", ".join(d.tags),
                   "ingested": d.ingested_at.strftime("%Y-%m-%d %H:%M"), "id": d.doc_id} for d in docs],
                  hide_index=True)
    by_id = {d.doc_id: d for d in docs}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    doc_id = left.selectbox("Document to delete", list(by_id), key="delete-doc-pick",
                            format_func=lambda i: f"{by_id[i].title} ({Path(by_id[i].source).name})")
    if right.button("Delete document", key="delete-doc", icon=":material/delete:", width="stretch"):
        if guard.call("delete the document", client.delete_document, collection, doc_id, key="delete-doc") \
                is not guard.FAILED:
            st.session_state["flash"] = f"Deleted “{by_id[doc_id].title}”."
            st.rerun()


def page() -> None:
    """Draw the Documents page."""
    client = state.client()
    st.title("Documents")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    infos = picker.collections(client)
    collection = picker.pick_collection(infos, where="documents")
    collections_section(client, infos, collection)
    if collection is None:
        return
    st.divider()
    upload_section(client, collection)
    st.divider()
    documents_section(client, collection)
