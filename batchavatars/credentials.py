"""The API key: HEYGEN_API_KEY, else the official CLI's credentials file. Returned, never logged."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import UsageError


def api_key_from_env() -> str:
    key = os.environ.get("HEYGEN_API_KEY", "").strip()
    if key:
        return checked_key(key, "HEYGEN_API_KEY")
    folder = Path(os.environ.get("HEYGEN_CONFIG_DIR") or Path.home() / ".heygen")
    path = folder / "credentials"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UsageError(
            "no HeyGen API key. Fix: set HEYGEN_API_KEY, or log in with the official heygen CLI "
            f"(which writes {path}); or try the manifest with --sandbox"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the credentials file ({exc}). Fix: check its permissions") from None
    if text.startswith("{"):
        try:
            key = str(json.loads(text).get("api_key") or "").strip()
        except (ValueError, AttributeError):
            raise UsageError(
                f"{path}: credentials file is not valid JSON. Fix: rewrite it as "
                '{"api_key": "..."} or one line holding the key'
            ) from None
    else:
        key = text.splitlines()[0].strip() if text else ""
    if not key:
        raise UsageError(
            f"{path}: holds no api_key. Fix: set HEYGEN_API_KEY, or write the key into the file "
            '(one line, or {"api_key": "..."})'
        )
    return checked_key(key, str(path))


def checked_key(key: str, where: str = "the API key") -> str:
    """HTTP headers are ASCII: httpx refuses anything else, deep inside the first request."""
    if not key.isascii():
        raise UsageError(
            f"{where}: the key holds non-ASCII characters (a typographic quote or a stray letter?). "
            "Fix: copy the key again from HeyGen's API settings"
        )
    if any(ch in key for ch in "\r\n\0"):
        raise UsageError(f"{where}: the key holds a line break. Fix: copy the key again, on one line")
    return key
