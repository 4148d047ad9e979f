"""A token bucket over all /v3 requests of the account."""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float | None, size: float, now: float) -> None:
        self.rate = rate or 0.0  # tokens per second; 0 disables the bucket
        self.size = max(size, 1.0)
        self._tokens = self.size
        self._at = now

    def reconfigure(self, rate: float | None, size: float, now: float) -> None:
        self._refill(now)
        self.rate = rate or 0.0
        self.size = max(size, 1.0)
        self._tokens = min(self._tokens, self.size) if self.rate else self.size

    def take(self, now: float) -> float:
        """Take one token: 0.0 if granted, else the seconds until one is available."""
        if not self.rate:
            return 0.0
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def _refill(self, now: float) -> None:
        if self.rate and now > self._at:
            self._tokens = min(self.size, self._tokens + (now - self._at) * self.rate)
        self._at = now
