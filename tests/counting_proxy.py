"""A loopback HTTP proxy in front of a real server that counts the requests it holds at once.

Sampling vLLM's ``num_requests_running`` gauge missed concurrency whenever the requests were
short (a one-token answerability score, then an abstention): 24 scrapes saw 0 on a run whose
requests did overlap. The proxy counts every request exactly, and can hold the first ones at a
barrier until ``gather`` of them are in flight (or ``hold_s`` passes), so the count shows how
many requests the client lets through at once, not how quickly the server happens to answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Count:
    in_flight: int = 0
    peak: int = 0
    total: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)


@contextlib.contextmanager
def counting_proxy(upstream: str, *, gather: int = 0, hold_s: float = 15.0) -> Iterator[tuple[str, Count]]:
    """Yield ``(url, count)``: a proxy to ``upstream`` and its live count of POSTs in flight.

    With ``gather`` > 0, the first POSTs wait until ``gather`` of them are in flight at once
    (then none waits again) or until ``hold_s`` has passed for each.
    """
    import httpx

    count = Count()
    client = httpx.Client(base_url=upstream, timeout=300)

    class Forward(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self._forward(b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with count.cond:
                count.in_flight += 1
                count.total += 1
                count.peak = max(count.peak, count.in_flight)
                count.cond.notify_all()
                deadline = time.monotonic() + hold_s
                # Once ``gather`` were in flight together (the peak says so), nobody waits again.
                while count.peak < gather and time.monotonic() < deadline:
                    count.cond.wait(deadline - time.monotonic())
            try:
                self._forward(body)
            finally:
                with count.cond:
                    count.in_flight -= 1

        def _forward(self, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            with client.stream(self.command, self.path, content=body, headers=headers) as upstream_reply:
                self.send_response(upstream_reply.status_code)
                for k, v in upstream_reply.headers.items():
                    if k.lower() not in _HOP and k.lower() != "content-encoding":
                        self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in upstream_reply.iter_bytes():
                    self.wfile.write(chunk)
                    self.wfile.flush()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", count
    finally:
        httpd.shutdown()
        httpd.server_close()
        client.close()
