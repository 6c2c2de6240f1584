"""List, create and delete collections."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Request, Response

from rag.api.access import readable, require_write
from rag.api.deps import ERROR_RESPONSES, V1, get_service
from rag.api.threads import run_blocking
from rag.api.uploads import uploads_dir
from rag.schemas import CollectionInfo, CreateCollectionRequest, ErrorResponse

router = APIRouter(prefix=V1, tags=["collections"], responses=ERROR_RESPONSES)


@router.get("/collections", response_model=list[CollectionInfo])
async def list_collections(request: Request) -> list[CollectionInfo]:
    """Every collection the API key may read, with its size."""
    infos = await run_blocking(get_service(request).collections.list, timeout=request.app.state.settings.request_timeout)
    return readable(request, infos)


@router.post("/collections", response_model=CollectionInfo, status_code=201,
             responses={409: {"model": ErrorResponse, "description": "The name is taken"}})
async def create_collection(body: CreateCollectionRequest, request: Request) -> CollectionInfo:
    """Create an empty collection for the server's encoder (a writer key needs a grant for the name)."""
    from fastapi.concurrency import run_in_threadpool

    require_write(request, body.name)
    service = get_service(request)

    def create() -> CollectionInfo:
        embedder = service.embedder
        service.collections.create(body.name, embedding_model=embedder.name, dimension=embedder.dimension)
        with service.collections.open(body.name) as col:
            return col.info()

    return await run_in_threadpool(create)  # a write: never abandoned half-way by a timeout


@router.delete("/collections/{name}", status_code=204,
               responses={409: {"model": ErrorResponse, "description": "An ingestion is writing to it"}})
async def delete_collection(name: str, request: Request) -> Response:
    """Delete a collection, its documents and its uploaded files."""
    from fastapi.concurrency import run_in_threadpool

    require_write(request, name)
    service = get_service(request)

    def delete() -> None:
        service.forget(name)
        service.collections.delete(name)
        shutil.rmtree(uploads_dir(service.settings, name), ignore_errors=True)

    await run_in_threadpool(delete)
    return Response(status_code=204)
