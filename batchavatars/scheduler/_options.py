"""What a run is asked to do (RunOptions) and what it reports back (RunResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..exitcodes import ExitCode
from ..records import Record, StopReason


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 8  # requests in flight
    rate: float = 10.0  # requests per second, the ceiling the meter may learn down from; 0: no limit
    max_attempts: int = 6
    wait_timeout: float = 1800.0  # seconds to keep waiting once nothing more can be sent
    no_wait: bool = False
    max_training: int | None = None  # the account's concurrent-job cap, if known; else learned
    poll_min: float = 0.5
    poll_max: float = 30.0
    seed: int | None = None  # jitter; fixed in tests


@dataclass(slots=True)
class RunResult:
    """How a run ended: counts by status, the exit code it maps to, and what it cost."""

    counts: dict[str, int]
    exit_code: ExitCode
    stopped: StopReason | None  # why the run ended early
    stop_message: str | None
    elapsed: float
    requests: int
    rate_limited: int
    creations: int
    uploads: int
    consent_requests: int
    records: list[Record] = field(default_factory=list)
    ledger: Path | None = None  # where the records are kept (set by the API)
    left_alone: list[str] = field(default_factory=list)  # changed items this run did not touch (--replace)
