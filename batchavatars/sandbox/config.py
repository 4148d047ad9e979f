"""What the simulated HeyGen account is like: limits, timings, injected faults, and which
documented reading of the API it plays.

Every field can be changed while the sandbox runs (POST /_sandbox/config), except where
it binds to: `host` and `port`. A bad value raises ValueError (pydantic's ValidationError)
naming the field; `describe_error` turns that into one line.

Readings where HeyGen's sources disagree (docs/heygen-v3-api-notes.md, last section):

- `consent_signal`: where a digital twin's consent wait shows.
  "look" (default): the twin's look reads `pending_consent` and does not train until consent is
  approved; its group reads `pending_consent`, `consent_status` null until consent is requested.
  "group": the look trains on its own clock (`processing` → `completed`, never
  `pending_consent`); the group reads `status: "pending_consent"`, `consent_status: "pending"`
  from creation until approval, then `"approved"` and its usual status. "both": the look waits as
  in "look" and the group waits as in "group". Photo and prompt groups: `consent_status` null.
  The mode a twin look is created under fixes its training clock; changing the setting re-renders
  groups at once. A look made (`type: prompt`, `avatar_id`) from a twin's completed look while
  the twin's group still waits for consent is accepted and trains at once: consent gates use for
  video, not training; the group keeps waiting.
- `list_status`: "omit" leaves `status` and `error` out of `GET /v3/avatars/looks` rows.
- `not_found_code`: the `code` of every 404.
- `foreign_groups`: group ids of "another account": creating into, reading, deleting, listing or
  asking consent for one answers `403 resource_access_denied`.
- `complete_conflicts`: the first N `/complete` calls per asset (not yet completed) answer
  `409 upload_not_found` ("uploaded object not found yet"), as storage that has not caught up.
- `asset_processing_seconds`: an asset is `processing` this long after `/complete` or a multipart
  upload (a direct upload is `queued` before `/complete`); a create that uses it before then
  answers `400 asset_not_available`. Readiness shows only in `GET /v3/assets/statuses` (entries
  named by `video_id`, unknown ids `not_found`, paged by `page_max`); `GET /v3/assets/{id}` is
  metadata without a status. `/complete` is idempotent by itself: no Idempotency-Key replay.
- `failed_assets`: filenames (the multipart part's, the ticket's `filename`) whose processing ends
  `failed` (error code `asset_processing_failed`); a create naming one answers `400 invalid_parameter`.
- `lost_assets`: filenames whose first asset (made while the setting names it) is lost once its
  processing is over: then the statuses call reports it `not_found` and every route naming it
  answers 404. Uploading the file again makes a new asset that works.
- `upload_headers_content_type`: whether a direct-upload ticket's `upload_headers` include
  `Content-Type`. Either way the ticket carries `content_type` and the storage PUT must send it
  as `Content-Type` (the signature covers it, as HeyGen's own uploader assumes).
- `replay_window_seconds`: how long an Idempotency-Key replays its answer; later the key is new.
- `quota_exceeded`: every creation answers `429 quota_exceeded` ("a usage quota exceeded", not a
  rate limit) with an hour's `Retry-After`, until the setting is turned off again.
- `null_avatar_item`: probability that a successful create answers `"avatar_item": null` (the look
  is still made).
- Renames: only photo and digital-twin looks; a prompt-made look answers `400 invalid_parameter`
  (param `look_id`), as the notes list only those two.

What happens on the account behind a client's back, for tests of `--refresh` (control routes,
outside the /v3 API): a look deleted or renamed "in the dashboard" is the API's own
`DELETE`/`PATCH /v3/avatars/looks/{id}`; `POST /_sandbox/looks/{look_id}/fail` makes a look's
training fail after all (it reads `failed` from then on, or once its window ends);
`POST /_sandbox/groups/{group_id}/revoke_consent` withdraws a twin group's consent: it reads
`pending_consent` again (`consent_status` as before any request, so "pending" under the "group"
reading, null under "look") until consent is requested and approved anew, while its looks that
trained stay `completed`.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._routes import V3_ROUTES

__all__ = ["V3_ROUTES", "SandboxConfig", "describe_error", "parse_setting"]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
_BIND_FIELDS = ("host", "port")


class SandboxConfig(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_assignment=True)

    api_key: Annotated[str, Field(min_length=1)] | None = None  # None: any non-empty key is accepted
    forbidden: bool = False  # creation answers 403 (tier without avatar creation)
    credits: Annotated[int, Field(ge=0)] | None = None  # remaining balance, None = unlimited; each creation costs 1
    latency: Seconds = 0.0  # seconds added to every /v3 response
    training_seconds: Seconds = 1.0
    training_jitter: Probability = 0.0  # fraction, uniform ±
    training_failure_rate: Probability = 0.0
    seed: int = 0  # seeds every random decision, so runs are reproducible
    max_concurrent_training: Annotated[int, Field(ge=0)] | None = 40  # per account; None = no cap
    rate_limit: Seconds | None = 20.0  # requests/s over all /v3 routes; None or 0 disables
    rate_burst: Annotated[float, Field(ge=1.0)] | None = None  # bucket size; None = rate_limit
    retry_after_format: Literal["seconds", "date"] = "seconds"
    consent_approval_seconds: Seconds | None = 2.0  # None: the depicted person never comes
    fault_5xx: Probability = 0.0
    fault_lost_response: Probability = 0.0
    fault_drop: Probability = 0.0
    fault_slow: Probability = 0.0
    slow_seconds: Seconds = 5.0
    burst_429: Probability = 0.0
    fault_routes: list[str] | None = None  # None = every /v3 route; else templates from V3_ROUTES
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0 = a free port
    host: str = "127.0.0.1"
    page_max: Annotated[int, Field(ge=1)] = 50
    # Readings of the API (see the module docstring).
    consent_signal: Literal["look", "group", "both"] = "look"
    list_status: Literal["always", "omit"] = "always"
    not_found_code: Literal["not_found", "avatar_not_found", "resource_not_found"] = "not_found"
    foreign_groups: list[str] = Field(default_factory=list)
    complete_conflicts: Annotated[int, Field(ge=0)] = 0
    asset_processing_seconds: Seconds = 0.0
    failed_assets: list[str] = Field(default_factory=list)
    lost_assets: list[str] = Field(default_factory=list)
    upload_headers_content_type: bool = True
    direct_upload_max_bytes: Annotated[int, Field(ge=1)] = 200_000_000  # a ticket's max_bytes
    upload_url_ttl_seconds: Seconds = 3600.0  # a ticket's expires_in_seconds
    replay_window_seconds: Seconds = 86400.0
    null_avatar_item: Probability = 0.0
    quota_exceeded: bool = False  # creations answer 429 quota_exceeded (the usage quota is used up)
    # GET /v3/users/me
    account_name: Annotated[str, Field(min_length=1)] = "Sandy Box"  # first and last name
    billing_type: Literal["wallet", "subscription", "usage_based"] = "wallet"

    @field_validator("fault_routes")
    @classmethod
    def _known_routes(cls, routes: list[str] | None) -> list[str] | None:
        unknown = [r for r in routes or () if r not in V3_ROUTES]
        if unknown:
            raise ValueError(f"unknown routes {unknown}; known: {list(V3_ROUTES)}")
        return routes

    @field_validator("host")
    @classmethod
    def _loopback(cls, host: str) -> str:
        if not _is_loopback(host):
            raise ValueError(f"the sandbox only listens on loopback, not {host!r}")
        return host

    @property
    def rate_limited(self) -> bool:
        return bool(self.rate_limit)

    @property
    def bucket_size(self) -> float:
        return float(self.rate_burst if self.rate_burst is not None else (self.rate_limit or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def copy_config(self) -> SandboxConfig:
        return self.model_copy(deep=True)

    def updated(self, changes: dict[str, Any]) -> SandboxConfig:
        """A validated copy with `changes` applied; ValueError names what is wrong."""
        for name in _BIND_FIELDS:
            if name in changes and changes[name] != getattr(self, name):
                raise ValueError(f"{name} cannot change while the sandbox runs")
        return SandboxConfig.model_validate({**self.model_dump(), **changes})


def describe_error(exc: ValueError, names: dict[str, str] | None = None) -> str:
    """One line naming each bad field (as `names` calls it, e.g. a CLI option), its problem and the value given."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for error in exc.errors():
        field = ".".join(str(x) for x in error["loc"]) or "config"
        field = (names or {}).get(field, field)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            parts.append(f"{field}: no such config field")
        else:
            parts.append(f"{field}: {message}, got {error.get('input')!r}")
    return "; ".join(parts)


def parse_setting(text: str) -> tuple[str, Any]:
    """`FIELD=VALUE` from a command line: VALUE is read as JSON (numbers, null, lists), else kept as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--set {text!r} is not FIELD=VALUE")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
