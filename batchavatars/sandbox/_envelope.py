"""HeyGen's error envelope, and the exception handlers raise to answer with one."""

from __future__ import annotations

import json
from typing import Any

DOC_URL = "https://sandbox.heygen.local/docs/errors#{code}"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    error["doc_url"] = DOC_URL.format(code=code)
    return {"error": error}


class ApiFailure(Exception):
    """An error answer: status, HeyGen code and (optionally) the offending parameter."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}

    def body(self) -> bytes:
        return dumps(envelope(self.code, self.message, self.param))


def invalid(message: str, param: str | None = None) -> ApiFailure:
    """A present value is wrong."""
    return ApiFailure(400, "invalid_parameter", message, param)


def missing(param: str) -> ApiFailure:
    """A required value is absent or of the wrong JSON type."""
    return ApiFailure(400, "validation_error", f"{param} is required", param)


def not_found(what: str, ident: str, param: str | None = None) -> ApiFailure:
    return ApiFailure(404, "not_found", f"{what} {ident!r} not found", param)


def access_denied(what: str, ident: str, param: str) -> ApiFailure:
    """The resource exists but belongs to another account: fail that item, not the run."""
    return ApiFailure(403, "resource_access_denied", f"{what} {ident!r} belongs to another account", param)


def not_available(asset_id: str, status: str, param: str) -> ApiFailure:
    message = (
        f"asset {asset_id!r} is not ready (status {status}): "
        f"wait until GET /v3/assets/statuses?asset_ids={asset_id} says completed"
    )
    return ApiFailure(400, "asset_not_available", message, param)
