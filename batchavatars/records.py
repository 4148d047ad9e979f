"""The ledger's vocabulary, with no I/O: an item's status, why it failed, the Record the ledger
keeps per manifest item, and how a run ended (why it stopped, its RunResult). SQLite stores each
enum as its text, so a ledger reads the same whichever side of this module wrote it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from .exitcodes import ExitCode


class Status(StrEnum):
    """Where an item stands, as the ledger records it (the transitions are in scheduler/_state.py)."""

    PENDING = "pending"  # nothing sent yet (or a new attempt will start from scratch)
    CREATING = "creating"  # the intent is recorded; the POST may have been sent
    UNANSWERED = "unanswered"  # the POST was sent, retries ran out without a definitive answer
    TRAINING = "training"  # HeyGen accepted it; training on HeyGen's side
    AWAITING_CONSENT = "awaiting_consent"  # a digital twin whose group waits for the person's consent
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a definitive answer: HeyGen refused it or its training failed
    BLOCKED = "blocked"  # a parent failed, so it can never be sent


STATUSES = tuple(Status)
TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.BLOCKED})
# A key that may have reached HeyGen: the next attempt must send the same key (or look it up).
SENT = frozenset({Status.CREATING, Status.UNANSWERED})


class ErrorSource(StrEnum):
    """Who ended an attempt: decides whether the same Idempotency-Key is used again."""

    HEYGEN = "heygen"  # HeyGen answered definitively about the item (a 4xx, or training failed)
    ACCOUNT = "account"  # HeyGen refused the account (401, 402, 403): tried again once it is put right
    TRANSPORT = "transport"  # no definitive answer (5xx, timeout, dropped connection, 409/429 retries ran out)
    BLOCKED = "blocked"  # a parent failed
    LOCAL = "local"  # a local file vanished, an ambiguous adoption: nothing reached HeyGen


# HeyGen answered: a replay of this key would return the same answer, so a new attempt takes a new key.
DEFINITIVE = frozenset({ErrorSource.HEYGEN, ErrorSource.ACCOUNT})


class StopReason(StrEnum):
    """Why a run ended before all of its work was done."""

    AUTH = "auth"  # 401, or a 403 that is about the key
    CREDIT = "credit"  # 402: no new work, what trains is still watched
    QUOTA = "quota"  # 429 quota_exceeded outlasted its long back-off: no new work, as for CREDIT
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM
    WAIT_TIMEOUT = "wait_timeout"  # training or consent outlasted --wait-timeout (or --no-wait)
    UNREACHABLE = "unreachable"  # the API never answered: wrong --base-url or the service is down
    CALLBACK = "callback"  # the caller's on_event raised: stopped cleanly, then raised to the caller


@dataclass(slots=True)
class Record:
    """One manifest item as the ledger knows it. The scheduler changes records only through
    named transitions (scheduler/_book.py); everything else reads them."""

    key: str
    kind: str
    type: str
    name: str
    parent: str | None
    status: str
    spec_hash: str
    spec_fields: dict[str, str] | None = None  # a digest per field of the request (ItemSpec.spec_fields)
    look_id: str | None = None
    group_id: str | None = None
    attempts: int = 0
    error_code: str | None = None
    error_message: str | None = None
    error_source: str | None = None
    error_param: str | None = None  # the envelope's `param`: the field HeyGen objected to
    error_doc_url: str | None = None  # the envelope's `doc_url`
    idempotency_key: str | None = None
    sent_at: str | None = None  # when this key was first sent: HeyGen replays it for 24 hours only
    generation: int = 0
    consent_url: str | None = None
    preview_image_url: str | None = None
    # What the video step needs of a look (API notes): kept so `export` needs no API call.
    supported_api_engines: list[str] | None = field(default=None)
    default_voice_id: str | None = None
    preferred_orientation: str | None = None
    origin: str | None = None  # "adopted": found on the account, not made by this ledger (never deleted by it)
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


RECORD_FIELDS = tuple(f.name for f in fields(Record))
JSON_FIELDS = frozenset({"supported_api_engines", "spec_fields"})  # stored as JSON text


def to_column(name: str, value: object) -> object:
    if name in JSON_FIELDS and value is not None:
        return json.dumps(value, sort_keys=True)
    return value


def from_column(name: str, value: object) -> object:
    if name not in JSON_FIELDS or not isinstance(value, str):
        return value
    loaded = json.loads(value)
    if name == "spec_fields":
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else None
    return [str(v) for v in loaded] if isinstance(loaded, list) else None


def look_details(look: dict[str, Any]) -> dict[str, Any]:
    """The fields of a HeyGen look worth keeping, where the answer carries them."""
    out: dict[str, Any] = {}
    if isinstance(url := look.get("preview_image_url"), str) and url:
        out["preview_image_url"] = url
    engines = look.get("supported_api_engines")
    if isinstance(engines, list):
        out["supported_api_engines"] = [str(e) for e in engines]
    for name in ("default_voice_id", "preferred_orientation"):
        if isinstance(value := look.get(name), str) and value:
            out[name] = value
    return out


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
    ledger: Path | None = None  # the ledger's file, or for PostgreSQL where its companions go (set by the API)
    ledger_name: str | None = None  # the ledger for people: its file, or its database and workspace
    left_alone: list[str] = field(default_factory=list)  # changed (or moved) items this run did not touch
    left_alone_options: list[str] = field(default_factory=list)  # what applies them: --replace KEY, --move OLD=NEW
