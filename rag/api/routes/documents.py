"""Upload documents (ingested by a background job), list and delete them; job status."""

from __future__ import annotations

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from rag.api.access import principal, require_read, require_write
from rag.api.deps import ERROR_RESPONSES, V1, get_jobs, get_service
from rag.api.jobs import staging_dir
from rag.api.threads import run_blocking
from rag.api.uploads import check_uploads, save_uploads, uploads_dir
from rag.errors import ConflictError, NotFoundError
from rag.schemas import DocumentInfo, ErrorResponse, IngestJob

router = APIRouter(prefix=V1, tags=["documents"], responses=ERROR_RESPONSES)

_MB = 1024 * 1024


@router.post("/collections/{name}/documents", response_model=IngestJob, status_code=202, responses={
    413: {"model": ErrorResponse, "description": "A file (or the request) is larger than max_upload_mb"},
    415: {"model": ErrorResponse, "description": "A file type has no loader"},
    409: {"model": ErrorResponse, "description": "The collection was deleted during the upload"},
})
async def upload(name: str, request: Request, files: list[UploadFile] = File(..., description="One or more files")):
    """Save the files and start ingesting them; poll ``GET /v1/jobs/{job_id}``."""
    require_write(request, name)
    service, jobs = get_service(request), get_jobs(request)
    await run_blocking(service.collection, name, timeout=request.app.state.settings.request_timeout)  # 404 / 409
    check_uploads(files, int(service.settings.max_upload_mb * _MB), service.settings.max_upload_files)
    job_id = jobs.new_id()
    uploads = uploads_dir(service.settings, name)
    try:
        saved = await run_in_threadpool(save_uploads, files, staging_dir(uploads, job_id))
    except FileNotFoundError:
        # The collection was deleted (with its upload folder) while the files were being saved.
        raise ConflictError(f"collection '{name}' was deleted during the upload; nothing was stored",
                            collection=name) from None
    return await run_in_threadpool(jobs.submit, job_id, name, uploads, saved)


@router.get("/jobs/{job_id}", response_model=IngestJob)
async def job(job_id: str, request: Request) -> IngestJob:
    """An ingestion job: state, files done, per-file results, and the summary once finished."""
    found = get_jobs(request).get(job_id)
    if not principal(request).can_read(found.collection):
        raise NotFoundError(f"no ingestion job '{job_id}'")  # as if unknown: job ids say nothing to other keys
    return found


@router.get("/collections/{name}/documents", response_model=list[DocumentInfo])
async def list_documents(name: str, request: Request) -> list[DocumentInfo]:
    """The documents of a collection, oldest first."""
    require_read(request, name)
    service = get_service(request)

    def documents() -> list[DocumentInfo]:
        with service.use(name) as col:
            return col.documents()

    return await run_blocking(documents, timeout=request.app.state.settings.request_timeout)


@router.delete("/collections/{name}/documents/{doc_id}", status_code=204, responses={
    409: {"model": ErrorResponse, "description": "An ingestion is writing to the collection"},
})
async def delete_document(name: str, doc_id: int, request: Request) -> Response:
    """Delete one document (and its uploaded file, if it was uploaded)."""
    require_write(request, name)
    service = get_service(request)

    def delete() -> None:
        with service.collections.open(name, writable=True) as col:
            doc = next((d for d in col.documents() if d.doc_id == doc_id), None)
            if doc is None:
                raise NotFoundError(f"collection '{name}' has no document {doc_id}")
            col.delete_documents([doc_id])
        _remove_upload(service.settings, name, doc.source)

    await run_in_threadpool(delete)
    return Response(status_code=204)


def _remove_upload(settings, collection: str, source: str) -> None:
    """Remove the saved file of an uploaded document (never anything outside the uploads folder)."""
    from pathlib import Path

    root = uploads_dir(settings, collection).resolve()
    path = Path(source)
    if path.is_file() and root in path.resolve().parents:
        path.unlink(missing_ok=True)
