"""A token bucket per caller: ``rate_limit_per_minute`` on average, ``rate_limit_burst`` at once."""

from __future__ import annotations

import math
import time

#: Buckets kept before idle full ones are dropped (callers without keys are counted by address).
MAX_BUCKETS = 10_000


class RateLimiter:
    """Token buckets keyed by caller. Used from the event loop only, so it needs no lock.

    Args:
        per_minute: tokens added per minute (0 disables the limit).
        burst: bucket size.

    Example:
        >>> limiter = RateLimiter(60, burst=2)
        >>> limiter.take("k"), limiter.take("k"), limiter.take("k") > 0
        (0.0, 0.0, True)
    """

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, caller: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, last = self._buckets.get(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= MAX_BUCKETS and caller not in self._buckets:
            self._prune(now)
        self._buckets[caller] = (tokens - 1.0, now)
        return 0.0

    def _prune(self, now: float) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
