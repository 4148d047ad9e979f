"""What the simulated HeyGen account is like: limits, timings and injected faults.

Every field can be changed while the sandbox runs (POST /_sandbox/config), except where
it binds to: `host` and `port`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from dataclasses import dataclass
from typing import Any, Literal

# The /v3 route templates, as used in stats keys and in `fault_routes`.
V3_ROUTES: tuple[str, ...] = (
    "POST /v3/avatars",
    "GET /v3/avatars",
    "GET /v3/avatars/looks",
    "GET /v3/avatars/looks/{look_id}",
    "PATCH /v3/avatars/looks/{look_id}",
    "DELETE /v3/avatars/looks/{look_id}",
    "GET /v3/avatars/{group_id}",
    "DELETE /v3/avatars/{group_id}",
    "POST /v3/avatars/{group_id}/consent",
    "POST /v3/assets",
    "POST /v3/assets/direct-uploads",
    "POST /v3/assets/{asset_id}/complete",
)

_PROBABILITIES = ("training_failure_rate", "fault_5xx", "fault_lost_response", "fault_drop", "fault_slow", "burst_429")
_NON_NEGATIVE = ("latency", "training_seconds", "slow_seconds")
_BIND_FIELDS = ("host", "port")


@dataclass
class SandboxConfig:
    api_key: str | None = None  # None: any non-empty key is accepted
    forbidden: bool = False  # creation answers 403 (tier without avatar creation)
    credits: int | None = None  # remaining balance, None = unlimited; each creation costs 1
    latency: float = 0.0  # seconds added to every /v3 response
    training_seconds: float = 1.0
    training_jitter: float = 0.0  # fraction, uniform ±
    training_failure_rate: float = 0.0
    seed: int = 0  # seeds every random decision, so runs are reproducible
    max_concurrent_training: int | None = 40  # per account; None = no cap
    rate_limit: float | None = 20.0  # requests/s over all /v3 routes; None or 0 disables
    rate_burst: float | None = None  # bucket size; None = rate_limit
    retry_after_format: Literal["seconds", "date"] = "seconds"
    consent_approval_seconds: float | None = 2.0  # None: the depicted person never comes
    fault_5xx: float = 0.0
    fault_lost_response: float = 0.0
    fault_drop: float = 0.0
    fault_slow: float = 0.0
    slow_seconds: float = 5.0
    burst_429: float = 0.0
    fault_routes: list[str] | None = None  # None = every /v3 route; else templates from V3_ROUTES
    port: int = 0  # 0 = a free port
    host: str = "127.0.0.1"
    page_max: int = 50

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        def number(name: str, value: Any, *, optional: bool = False) -> None:
            if value is None and optional:
                return
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")

        def integer(name: str, value: Any, minimum: int, *, optional: bool = False) -> None:
            if value is None and optional:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")

        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise ValueError("api_key must be a non-empty string or None")
        if not isinstance(self.forbidden, bool):
            raise ValueError("forbidden must be a boolean")
        integer("credits", self.credits, 0, optional=True)
        integer("seed", self.seed, -(2**63))
        integer("max_concurrent_training", self.max_concurrent_training, 0, optional=True)
        integer("page_max", self.page_max, 1)
        integer("port", self.port, 0)
        if self.port > 65535:
            raise ValueError(f"port must be at most 65535, got {self.port}")
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            number(name, value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        for name in (*_PROBABILITIES, "training_jitter"):
            value = getattr(self, name)
            number(name, value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        number("consent_approval_seconds", self.consent_approval_seconds, optional=True)
        if self.consent_approval_seconds is not None and self.consent_approval_seconds < 0:
            raise ValueError("consent_approval_seconds must be >= 0 or None")
        number("rate_limit", self.rate_limit, optional=True)
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 or None")
        number("rate_burst", self.rate_burst, optional=True)
        if self.rate_burst is not None and self.rate_burst < 1:
            raise ValueError("rate_burst must be >= 1 or None")
        if self.retry_after_format not in ("seconds", "date"):
            raise ValueError(f"retry_after_format must be 'seconds' or 'date', got {self.retry_after_format!r}")
        if self.fault_routes is not None:
            if isinstance(self.fault_routes, str) or not all(isinstance(r, str) for r in self.fault_routes):
                raise ValueError("fault_routes must be a list of route templates or None")
            unknown = [r for r in self.fault_routes if r not in V3_ROUTES]
            if unknown:
                raise ValueError(f"unknown fault_routes {unknown}; known: {list(V3_ROUTES)}")
            self.fault_routes = list(self.fault_routes)
        if not _is_loopback(self.host):
            raise ValueError(f"the sandbox only listens on loopback, not {self.host!r}")

    @property
    def rate_limited(self) -> bool:
        return bool(self.rate_limit)

    @property
    def bucket_size(self) -> float:
        return float(self.rate_burst if self.rate_burst is not None else (self.rate_limit or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, changes: dict[str, Any]) -> SandboxConfig:
        """A validated copy with `changes` applied; ValueError names what is wrong."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}")
        for name in _BIND_FIELDS:
            if name in changes and changes[name] != getattr(self, name):
                raise ValueError(f"{name} cannot change while the sandbox runs")
        return dataclasses.replace(self, **changes)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
