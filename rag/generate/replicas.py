"""Several replicas of one OpenAI-compatible server: which one takes the next request.

:class:`Replicas` hands out the least busy replica that is up (fewest requests in flight,
ties taken in turn), takes a replica out when a request to it cannot connect, and puts it
back when a health probe (``GET /health``, else ``GET /v1/models``) answers again. Probes
run in a background thread, at most one per replica every ``recheck_after`` seconds, and
only for replicas that are out; while every replica is out the caller gets them all back
(the longest out first), so a request still tries each before giving up.

The pool knows nothing of chat completions: :class:`~rag.generate.openai_compat.OpenAICompatGenerator`
asks it for a replica, reports what happened, and releases it.

Example:
    >>> pool = Replicas(["http://10.0.0.1:8001", "http://10.0.0.2:8001"], probe=lambda root: True)
    >>> root = pool.candidates()[0]
    >>> pool.acquire(root)      # ... send the request to root; on a refused connection:
    >>> pool.mark_down(root, "ConnectError")
    >>> pool.release(root)
    >>> pool.candidates() == [r for r in pool.roots if r != root]
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: Seconds a replica that failed stays out before it is probed again.
RECHECK_AFTER = 5.0


def split_urls(urls: str | Iterable[str]) -> list[str]:
    """Server roots (no trailing ``/`` or ``/v1``) from a comma-separated string or a list, in order, once each.

    Example:
        >>> split_urls("http://a:8001/v1, http://b:8001/ ,http://a:8001")
        ['http://a:8001', 'http://b:8001']
    """
    parts = urls.split(",") if isinstance(urls, str) else list(urls)
    roots: list[str] = []
    for part in parts:
        root = part.strip().rstrip("/")
        root = root[: -len("/v1")] if root.endswith("/v1") else root
        if root and root not in roots:
            roots.append(root)
    return roots


@dataclass
class ReplicaState:
    """What the pool knows of one replica."""

    root: str
    up: bool = True
    in_flight: int = 0
    served: int = 0
    failures: int = 0
    down_since: float = 0.0
    last_error: str = ""
    probing: bool = False
    next_probe: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Replicas:
    """Least-busy rotation over replicas, with failover and background health probes.

    Args:
        roots: the servers' base URLs without ``/v1`` (see :func:`split_urls`).
        probe: ``probe(root) -> bool``, True when the replica is healthy again.
        recheck_after: seconds between probes of a replica that is out.
    """

    def __init__(self, roots: list[str], *, probe: Callable[[str], bool], recheck_after: float = RECHECK_AFTER) -> None:
        if not roots:
            raise ValueError("at least one replica URL is needed")
        self.states = [ReplicaState(root) for root in roots]
        self.probe = probe
        self.recheck_after = recheck_after
        self._turn = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.states)

    @property
    def roots(self) -> list[str]:
        return [s.root for s in self.states]

    def candidates(self, exclude: Iterable[str] = ()) -> list[str]:
        """Replicas to try for one request, best first: those up by fewest requests in flight
        (ties in turn), then, only when none is up, those out by how long they have been out."""
        skip = set(exclude)
        self._probe_due()
        with self._lock:
            self._turn = (self._turn + 1) % len(self.states)
            n = len(self.states)
            ordered = [self.states[(self._turn + i) % n] for i in range(n)]
            up = sorted((s for s in ordered if s.up and s.root not in skip), key=lambda s: s.in_flight)
            if up:
                return [s.root for s in up]
            down = sorted((s for s in ordered if not s.up and s.root not in skip), key=lambda s: s.down_since)
            return [s.root for s in down]

    def acquire(self, root: str) -> None:
        """Count one more request in flight to ``root`` (pair with :meth:`release`)."""
        state = self._state(root)
        with self._lock:
            state.in_flight += 1
            state.served += 1

    def release(self, root: str) -> None:
        """The request to ``root`` is over."""
        state = self._state(root)
        with self._lock:
            state.in_flight -= 1

    def mark_down(self, root: str, reason: str) -> None:
        """Take ``root`` out of the rotation until a probe finds it healthy."""
        state = self._state(root)
        now = time.monotonic()
        with self._lock:
            state.failures += 1
            state.last_error = reason
            state.next_probe = now + self.recheck_after
            if state.up:
                state.up, state.down_since = False, now
                log.warning("generator replica %s is out of the rotation: %s", root, reason)

    def mark_up(self, root: str) -> None:
        """Put ``root`` back (a request to it succeeded, or a probe did)."""
        state = self._state(root)
        with self._lock:
            was_down, state.up, state.last_error = not state.up, True, ""
        if was_down:
            log.warning("generator replica %s is back in the rotation", root)

    def status(self) -> list[dict]:
        """Each replica's state, for logs and health reports."""
        with self._lock:
            return [{"url": s.root, "up": s.up, "in_flight": s.in_flight, "served": s.served,
                     "failures": s.failures, "last_error": s.last_error} for s in self.states]

    def describe_down(self) -> str:
        """``url (last error); url (last error)`` for the replicas that are out."""
        return "; ".join(f"{s.root} ({s.last_error or 'down'})" for s in self.states if not s.up)

    def last_error(self, root: str) -> str:
        """Why ``root`` was last taken out ('' when it is up)."""
        return self._state(root).last_error

    # -- probes ------------------------------------------------------------------

    def _probe_due(self) -> None:
        """Start a background probe for each replica out of rotation whose recheck time has come."""
        now = time.monotonic()
        due = []
        with self._lock:
            for state in self.states:
                if not state.up and not state.probing and now >= state.next_probe:
                    state.probing = True
                    due.append(state)
        for state in due:
            threading.Thread(target=self._run_probe, args=(state,), name="rag-replica-probe", daemon=True).start()

    def _run_probe(self, state: ReplicaState) -> None:
        try:
            healthy = self.probe(state.root)
        except Exception as exc:  # noqa: BLE001 - a failed probe only keeps the replica out
            log.debug("probe of %s failed: %s", state.root, exc)
            healthy = False
        with self._lock:
            state.probing = False
            state.next_probe = time.monotonic() + self.recheck_after
        if healthy:
            self.mark_up(state.root)

    def _state(self, root: str) -> ReplicaState:
        for state in self.states:
            if state.root == root:
                return state
        raise KeyError(root)
