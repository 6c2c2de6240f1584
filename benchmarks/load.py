"""Load benchmark: many concurrent clients send mixed asks, searches and uploads to a server.

Start a server first (a fast generator keeps asks short), then point this at it::

    RAG_GENERATOR_MODEL=smollm2-135m-instruct-q4_1 RAG_RATE_LIMIT_PER_MINUTE=0 rag serve &
    python -m benchmarks.load --url http://127.0.0.1:8000 --clients 32 --seconds 60

It prints latency percentiles (p50/p95/p99) per operation, the throughput, the 5xx
count, and checks that every acknowledged upload ended up in the collection. With
``--churn`` clients also delete and recreate the collection (a concurrency check:
answers may then be 404/409, never 5xx). Exit status 1 when a 5xx or a lost upload was seen.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx

QUESTIONS = ["How many vacation days does an employee get?", "When does the ferry leave?",
             "What must visitors wear in the quarry?", "How many books can a member borrow?"]
SEED_DOCS = {
    "vacation.txt": "Every employee gets 27 vacation days per calendar year.",
    "ferry.txt": "The Harlow ferry leaves the north pier at 7:15 every morning.",
    "quarry.txt": "Visitors to the Denholm quarry must wear a hard hat.",
    "library.txt": "Each member of the Norwood library may borrow up to 12 books at a time.",
}
MIX = {"ask": 0.3, "search": 0.5, "upload": 0.2}
CHURN_MIX = {"ask": 0.25, "search": 0.35, "upload": 0.2, "delete": 0.1, "create": 0.1}


@dataclass
class Results:
    """What the clients saw: (operation, status, seconds) per request, and acknowledged uploads."""

    calls: list[tuple[str, int, float]] = field(default_factory=list)
    uploads: dict[str, str] = field(default_factory=dict)  # file name -> job id
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, response: httpx.Response, seconds: float) -> None:
        with self.lock:
            self.calls.append((op, response.status_code, seconds))
            if response.status_code >= 500 or "closed database" in response.text:
                self.server_errors.append(f"{op} {response.status_code} {response.text[:200]}")


def seed(url: str, collection: str) -> None:
    """Create ``collection`` with a few documents and wait until they are ingested."""
    with httpx.Client(base_url=url, timeout=120) as http:
        http.post("/v1/collections", json={"name": collection})
        files = [("files", (name, text.encode(), "text/plain")) for name, text in SEED_DOCS.items()]
        job = http.post(f"/v1/collections/{collection}/documents", files=files).json()["job_id"]
        _wait_job(http, job)


def _wait_job(http: httpx.Client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job.get("state") in ("succeeded", "failed", "interrupted") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def _client(url: str, collection: str, mix: dict, deadline: float, results: Results, rnd: random.Random) -> None:
    ops, weights = list(mix), list(mix.values())
    with httpx.Client(base_url=url, timeout=600) as http:
        n = 0
        while time.monotonic() < deadline:
            op = rnd.choices(ops, weights)[0]
            path = f"/v1/collections/{collection}"
            started = time.perf_counter()
            try:
                if op == "ask":
                    r = http.post(path + "/ask", json={"query": rnd.choice(QUESTIONS), "max_tokens": 16})
                elif op == "search":
                    r = http.post(path + "/retrieve", json={"query": rnd.choice(QUESTIONS), "k": 3})
                elif op == "upload":
                    n += 1
                    name = f"load-{threading.get_ident()}-{n}.txt"
                    body = f"Load note {name}: the meeting room on floor {n} seats {rnd.randint(2, 40)} people."
                    r = http.post(path + "/documents", files=[("files", (name, body.encode(), "text/plain"))])
                    if r.status_code == 202:
                        with results.lock:
                            results.uploads[name] = r.json()["job_id"]
                elif op == "delete":
                    r = http.delete(path)
                else:
                    r = http.post("/v1/collections", json={"name": collection})
            except httpx.HTTPError as exc:
                with results.lock:
                    results.server_errors.append(f"{op}: {type(exc).__name__}: {exc}")
                continue
            results.record(op, r, time.perf_counter() - started)


def run(url: str, *, clients: int = 32, seconds: float = 60, collection: str = "load", churn: bool = False,
        askers: int | None = None, seed_rng: int = 7) -> dict:
    """Run the load and return a summary (see :func:`summarize`).

    ``askers``: how many of the clients ask (the others only search and upload); None = all.
    A local generator answers one question at a time, so clients that ask pile up behind it:
    bounding them bounds how long the run takes to drain after ``seconds``.
    """
    seed(url, collection)
    results = Results()
    deadline = time.monotonic() + seconds
    mix = CHURN_MIX if churn else MIX
    no_ask = {op: w for op, w in mix.items() if op != "ask"}
    threads = [threading.Thread(target=_client, args=(url, collection, mix if askers is None or i < askers else no_ask,
                                                      deadline, results, random.Random(seed_rng + i)))
               for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    lost = [] if churn else _lost_uploads(url, collection, results)
    return summarize(results, elapsed, lost)


def _lost_uploads(url: str, collection: str, results: Results) -> list[str]:
    """Acknowledged uploads that did not end up as documents."""
    with httpx.Client(base_url=url, timeout=120) as http:
        for job_id in set(results.uploads.values()):
            _wait_job(http, job_id)
        names = {d["source"].rsplit("/", 1)[-1] for d in http.get(f"/v1/collections/{collection}/documents").json()}
    return sorted(set(results.uploads) - names)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summarize(results: Results, elapsed: float, lost: list[str]) -> dict:
    """Requests, statuses, p50/p95/p99 latency (s) per operation and overall, throughput, 5xx, lost uploads."""
    def stats(latencies: list[float]) -> dict:
        return {"n": len(latencies), "p50": round(_pct(latencies, 0.5), 3), "p95": round(_pct(latencies, 0.95), 3),
                "p99": round(_pct(latencies, 0.99), 3),
                "mean": round(statistics.fmean(latencies), 3) if latencies else 0.0}

    by_op: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    for op, status, seconds in results.calls:
        by_op.setdefault(op, []).append(seconds)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(results.calls), "seconds": round(elapsed, 1),
        "throughput_rps": round(len(results.calls) / elapsed, 2) if elapsed else 0.0,
        "statuses": statuses, "server_errors": results.server_errors[:20],
        "5xx": sum(1 for _, s, _ in results.calls if s >= 500),
        "uploads_acknowledged": len(results.uploads), "uploads_lost": lost,
        "latency": {"all": stats([s for _, _, s in results.calls]), **{op: stats(v) for op, v in sorted(by_op.items())}},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="base URL of a running server")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--collection", default="load")
    ap.add_argument("--churn", action="store_true", help="also delete and recreate the collection")
    ap.add_argument("--askers", type=int, default=None, help="clients that ask (default: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    summary = run(args.url, clients=args.clients, seconds=args.seconds, collection=args.collection, churn=args.churn,
                  askers=args.askers)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['requests']} requests in {summary['seconds']} s: {summary['throughput_rps']} req/s, "
              f"5xx {summary['5xx']}, statuses {summary['statuses']}")
        print(f"uploads acknowledged {summary['uploads_acknowledged']}, lost {len(summary['uploads_lost'])}")
        print(f"{'operation':<10}{'n':>7}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}")
        for op, s in summary["latency"].items():
            print(f"{op:<10}{s['n']:>7}{s['p50']:>9}{s['p95']:>9}{s['p99']:>9}")
        for line in summary["server_errors"]:
            print("server error:", line, file=sys.stderr)
    return 1 if summary["5xx"] or summary["uploads_lost"] or summary["server_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
