"""Prometheus metrics of one app (its own registry, so several apps can share a process)."""

from __future__ import annotations


class Metrics:
    """Request counts and latencies by route, ask latency, tokens streamed, ingestion jobs, generator replicas."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("rag_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("rag_http_request_duration_seconds", "HTTP request latency (to the last byte)",
                                 ["method", "route"], registry=r)
        self.ask_latency = Histogram(
            "rag_ask_duration_seconds", "Time to answer a question", ["mode", "outcome"], registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320),
        )
        self.tokens = Counter("rag_tokens_streamed_total", "Answer text deltas sent", ["mode"], registry=r)
        self.jobs = Counter("rag_ingest_jobs_total", "Ingestion jobs finished", ["state"], registry=r)
        self.jobs_active = Gauge("rag_ingest_jobs_active", "Ingestion jobs queued or running", registry=r)
        self.files = Counter("rag_ingest_files_total", "Uploaded files ingested, by outcome", ["status"], registry=r)
        self.stage = Histogram(
            "rag_stage_duration_seconds", "Time of one stage of an answer or a search", ["stage"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160),
        )
        self.ingest_seconds = Counter("rag_ingest_stage_seconds_total", "Seconds spent per ingestion stage",
                                      ["stage"], registry=r)
        self.ingest_chunks = Counter("rag_ingest_chunks_total", "Chunks stored by uploads", registry=r)
        # Labelled by position in RAG_GENERATOR_BASE_URL (0, 1, ...), not by URL: /metrics is open.
        self.replica_up = Gauge("rag_generator_replica_up", "1 while a generator replica is in the rotation",
                                ["replica"], registry=r)
        self.replica_in_flight = Gauge("rag_generator_replica_in_flight", "Requests in flight to a generator replica",
                                       ["replica"], registry=r)

    def observe_stages(self, timings: dict[str, float]) -> None:
        """The retrieve, generate and verify stages of an answer (those that ran)."""
        for stage in ("retrieve", "generate", "verify"):
            if stage in timings:
                self.stage.labels(stage).observe(timings[stage])

    def observe_replicas(self, replicas) -> None:
        """The state of the generator's replicas (a :class:`rag.generate.replicas.Replicas`)."""
        for position, state in enumerate(replicas.status()):
            self.replica_up.labels(str(position)).set(1 if state["up"] else 0)
            self.replica_in_flight.labels(str(position)).set(state["in_flight"])

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
