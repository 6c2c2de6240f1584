"""Liveness, readiness and Prometheus metrics (open even when an API key is set)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from rag.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (always 200)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready yet"}})
async def readyz(request: Request):
    """200 once the encoder and the generator are loaded; 503 ``loading`` (or ``error``) before."""
    health = request.app.state.readiness.health()
    return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    replicas = getattr(getattr(request.app.state.service, "generator", None), "replicas", None)
    if replicas is not None:  # an OpenAI-compatible generator: one gauge per replica
        request.app.state.metrics.observe_replicas(replicas)
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
