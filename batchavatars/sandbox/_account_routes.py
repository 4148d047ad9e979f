"""The account route (/v3/users/me), the offline preview images, and the /_sandbox controls."""

from __future__ import annotations

import time
import zlib
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from ._envelope import invalid, not_found
from ._http import Routes, json_object
from ._policy import json_response
from ._world import world_json
from .config import describe_error

UNLIMITED_CREDITS = 1_000_000  # the balance shown when `credits` is None
_PALETTE = ("#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#4f46e5", "#b45309")


class AccountRoutes(Routes):
    async def get_me(self, request: Request) -> Response:
        cfg = self.state.config
        first, _, last = cfg.account_name.partition(" ")
        username = "".join(ch for ch in cfg.account_name.lower() if ch.isalnum() or ch == " ").replace(" ", ".")
        data: dict[str, Any] = {
            "username": username or "sandbox",
            "email": f"{username or 'sandbox'}@example.com",
            "first_name": first,
            "last_name": last,
            "billing_type": cfg.billing_type,
            "wallet": None,
            "subscription": None,
            "usage_based": None,
        }
        data[cfg.billing_type] = _billing(cfg.billing_type, cfg.credits)
        return json_response(200, {"data": data})

    async def get_preview(self, request: Request) -> Response:
        """A look's preview: a coloured card with its initials, so demos need no network."""
        file = request.path_params["file"]
        look_id = file.removesuffix(".svg")
        look = self.state.avatars.look(look_id) if file.endswith(".svg") else None
        if look is None:
            raise not_found("preview", file)
        return Response(preview_svg(look.id, look.name), 200, media_type="image/svg+xml")

    # --- control ---------------------------------------------------------------------------

    async def get_stats(self, request: Request) -> Response:
        return json_response(200, self.state.snapshot())

    async def get_config(self, request: Request) -> Response:
        return json_response(200, self.state.config.to_dict())

    async def set_config(self, request: Request) -> Response:
        changes = await json_object(request)
        try:
            cfg = self.state.configure(changes)
        except ValueError as exc:
            raise invalid(describe_error(exc)) from None
        return json_response(200, cfg.to_dict())

    async def reset(self, request: Request) -> Response:
        self.state.reset()  # a saved world gets a new id; the app saves it
        return json_response(200, {"reset": True})

    async def get_world(self, request: Request) -> Response:
        return json_response(200, world_json(self.state.world))

    # --- what happens on the account behind a client's back (tests of --refresh) ---------------

    async def fail_look(self, request: Request) -> Response:
        look_id = request.path_params["look_id"]
        look = self.state.avatars.look(look_id)
        if look is None:
            raise not_found("look", look_id)
        self.state.avatars.fail_later(look)
        return json_response(200, {"look_id": look.id, "status": look.status(self.state.clock())})

    async def revoke_consent(self, request: Request) -> Response:
        group_id = request.path_params["group_id"]
        group = self.state.avatars.group(group_id)
        if group is None:
            raise not_found("avatar group", group_id)
        if not group.is_twin:
            raise invalid(f"avatar group {group_id!r} is not a digital twin; only digital twins need consent")
        self.state.avatars.revoke_consent(group)
        return json_response(200, {"group_id": group.id, "status": group.status(self.state.clock())})


def _billing(kind: str, credits: int | None) -> dict[str, Any]:
    remaining = UNLIMITED_CREDITS if credits is None else credits
    if kind == "subscription":
        resets_at = int(time.time()) + 30 * 86400
        return {
            "plan": "sandbox",
            "credits": {
                "premium_credits": {"remaining": remaining, "resets_at": resets_at},
                "add_on_credits": {"remaining": 0, "resets_at": None},
            },
        }
    if kind == "usage_based":
        return {
            "remaining_credits": remaining,
            "included_credits": remaining,
            "spending_cap_usd": None,
            "spending_current_usd": 0,
        }
    return {"currency": "credits", "remaining_balance": remaining, "auto_reload": False}


def initials(name: str) -> str:
    """The first letter or digit of the name's first two words that have one."""
    firsts = [next(ch for ch in word if ch.isalnum()) for word in name.split() if any(ch.isalnum() for ch in word)]
    return "".join(firsts[:2]).upper() or "?"


def preview_svg(look_id: str, name: str) -> bytes:
    colour = _PALETTE[zlib.crc32(look_id.encode()) % len(_PALETTE)]
    text = escape(initials(name))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        f'<rect width="256" height="256" rx="24" fill="{colour}"/>'
        '<text x="128" y="128" dy=".35em" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="96" font-weight="700" fill="#ffffff">{text}</text>'
        "</svg>"
    ).encode()
