# syntax=docker/dockerfile:1
# The API image (`rag serve`), in two flavours chosen by the build target:
#   gpu  CUDA torch + faiss-gpu; the answer model is served by vLLM (the `llm` service)
#   cpu  CPU torch + faiss-cpu + llama.cpp; the answer model runs in-process
# Multi-stage: compilers and build caches stay in the build stages; the runtime stage
# holds the virtual environment and nothing else (no source tree, no pip cache).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build stages ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build-base
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && pip install --upgrade pip
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rag rag
COPY ingest ingest
COPY eval eval
COPY ui ui

FROM build-base AS build-gpu
# PyPI's Linux torch wheel is the CUDA build and brings its CUDA libraries, as does
# faiss-gpu: the host needs only the NVIDIA driver and container toolkit.
ARG TORCH=torch==2.13.0
RUN pip install "$TORCH" ".[engine,server,gpu]" \
 && python -c "import faiss; assert hasattr(faiss, 'StandardGpuResources'), 'faiss-gpu expected'"

FROM build-base AS build-cpu
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
# The CPU torch wheel (~200 MB instead of several GB of CUDA libraries). llama.cpp is
# compiled for a portable x86-64 baseline, not for the build machine's CPU.
ARG TORCH=torch==2.13.0
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN pip install --index-url https://download.pytorch.org/whl/cpu "$TORCH" \
 && CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip install ".[engine,server,cpu,llamacpp]"

# ---- runtime stages --------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# libgomp: OpenMP for llama.cpp (faiss and torch wheels bundle their own).
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 rag \
 && mkdir -p /data /models /hf-cache && chown rag:rag /data /models /hf-cache
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    RAG_HOME=/data RAG_MODELS_HOME=/models RAG_HOST=0.0.0.0 RAG_PORT=8000 HF_HOME=/hf-cache
WORKDIR /data
EXPOSE 8000
CMD ["rag", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS cpu
COPY --from=build-cpu /opt/venv /opt/venv
USER rag

FROM runtime AS gpu
COPY --from=build-gpu /opt/venv /opt/venv
USER rag
