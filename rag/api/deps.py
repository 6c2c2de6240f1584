"""What routes take from ``request.app.state`` (set up by :func:`rag.api.create_app`)."""

from __future__ import annotations

from fastapi import Request

from rag.schemas import ErrorResponse

#: Prefix of the versioned API. Routers carry it themselves, so each route's
#: template (a metrics label) is the full path.
V1 = "/v1"

#: Error responses every /v1 route documents in OpenAPI.
ERROR_RESPONSES = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "Invalid input, or a Host that is not allowed"), (401, "Missing or wrong API key"),
                       (403, "The API key may not do this, or a cross-origin request"), (404, "Not found"),
                       (413, "The request body is too large"), (422, "Invalid input or a limit exceeded"),
                       (429, "Rate limit of the API key; see Retry-After"), (500, "Unexpected error"))
}


def get_service(request: Request):
    """The app's :class:`rag.pipeline.RAGService`."""
    return request.app.state.service


def get_settings(request: Request):
    return request.app.state.settings


def get_metrics(request: Request):
    return request.app.state.metrics


def get_jobs(request: Request):
    return request.app.state.jobs


def with_default_k(request_model, sent, request: Request):
    """``request_model`` with the server's ``default_k`` when the client sent no ``k``."""
    if "k" in sent.model_fields_set:
        return request_model
    return request_model.model_copy(update={"k": request.app.state.settings.default_k})
