"""Small request and response helpers the route handlers share."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._envelope import ApiFailure, invalid
from ._paging import encode_token
from ._policy import json_response
from ._state import SandboxState

_SHA256 = re.compile(r"[0-9a-f]{64}")
_OWNERSHIPS = frozenset({"private", "public"})


class Routes:
    """Base of the handler groups; the app's handler object inherits them all."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise ApiFailure(400, "validation_error", "a JSON object body is required")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiFailure(400, "validation_error", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiFailure(400, "validation_error", "the body must be a JSON object")
    return body


def checksum(value: Any, param: str = "checksum_sha256") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise invalid(f"{param} must be 64 hex digits (SHA-256)", param)
    return value.lower()


def ownership(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in _OWNERSHIPS:
        raise invalid("ownership must be private or public", "ownership")
    return raw


def page_response(rows: list[dict[str, Any]], next_index: int | None, filters: str) -> Response:
    token = encode_token(next_index, filters) if next_index is not None else None
    return json_response(200, {"data": rows, "has_more": token is not None, "next_token": token})
