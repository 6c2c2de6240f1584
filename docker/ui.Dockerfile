# syntax=docker/dockerfile:1
# The web UI image (`rag ui`): the base package (pydantic, httpx) and the `ui` extra
# (streamlit) only. It talks to the API through rag.client and holds no torch, no faiss
# and no model; the build fails if either slips in.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && pip install --upgrade pip
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rag rag
COPY ingest ingest
COPY eval eval
COPY ui ui
RUN pip install ".[ui]" \
 && python -c "import importlib.util as u; bad = [m for m in ('torch', 'faiss', 'sentence_transformers', 'llama_cpp') if u.find_spec(m)]; assert not bad, bad"

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 1000 rag
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 RAG_UI_API_URL=http://api:8000
USER rag
WORKDIR /home/rag
EXPOSE 8501
CMD ["rag", "ui", "--host", "0.0.0.0", "--port", "8501", "--api-url", "http://api:8000"]
