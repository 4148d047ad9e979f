"""The one route table: every route the sandbox serves and the handler method that answers it.

`V3_ROUTES` (stats keys, `fault_routes`) and the app's routing are both made from it. Order
matters: a literal path comes before a template that would also match it.
"""

from __future__ import annotations

# "METHOD /path/template" -> the name of the handler method that answers it.
V3_TABLE: tuple[tuple[str, str], ...] = (
    ("POST /v3/avatars", "create_avatar"),
    ("GET /v3/avatars", "list_groups"),
    ("GET /v3/avatars/looks", "list_looks"),
    ("GET /v3/avatars/looks/{look_id}", "get_look"),
    ("PATCH /v3/avatars/looks/{look_id}", "rename_look"),
    ("DELETE /v3/avatars/looks/{look_id}", "delete_look"),
    ("GET /v3/avatars/{group_id}", "get_group"),
    ("DELETE /v3/avatars/{group_id}", "delete_group"),
    ("POST /v3/avatars/{group_id}/consent", "request_consent"),
    ("POST /v3/assets", "upload_asset"),
    ("POST /v3/assets/direct-uploads", "create_direct_upload"),
    ("POST /v3/assets/{asset_id}/complete", "complete_asset"),
    ("GET /v3/assets/statuses", "asset_statuses"),
    ("GET /v3/assets/{asset_id}", "get_asset"),
    ("GET /v3/users/me", "get_me"),
)

# Mutations without Idempotency-Key replay: HeyGen documents no key for /complete, which is
# idempotent by itself, so a repeat answers the asset's current state.
UNKEYED_ROUTES: frozenset[str] = frozenset({"POST /v3/assets/{asset_id}/complete"})

# Routes outside the simulated API: no auth, rate limit, faults or Idempotency-Key.
CONTROL_TABLE: tuple[tuple[str, str], ...] = (
    ("PUT /_sandbox/upload/{asset_id}", "put_upload"),  # the "storage" side of a direct upload
    ("GET /_sandbox/previews/{file}", "get_preview"),  # {look_id}.svg
    ("GET /_sandbox/stats", "get_stats"),
    ("GET /_sandbox/config", "get_config"),
    ("POST /_sandbox/config", "set_config"),
    ("POST /_sandbox/reset", "reset"),
    ("GET /_sandbox/world", "get_world"),  # which world a saved sandbox holds, and whether it was loaded
    # What happens on the account behind a client's back (a deletion or a rename "in the dashboard"
    # is the /v3 DELETE or PATCH itself):
    ("POST /_sandbox/looks/{look_id}/fail", "fail_look"),  # its training fails later
    ("POST /_sandbox/groups/{group_id}/revoke_consent", "revoke_consent"),  # a twin waits for consent again
)

# Control routes after which a saved world is saved: an upload's bytes, a reset, a config change
# (a new consent_approval_seconds re-times approvals under way), and what happens behind a
# client's back.
WORLD_CONTROLS: frozenset[str] = frozenset(
    {
        "PUT /_sandbox/upload/{asset_id}",
        "POST /_sandbox/config",
        "POST /_sandbox/reset",
        "POST /_sandbox/looks/{look_id}/fail",
        "POST /_sandbox/groups/{group_id}/revoke_consent",
    }
)

V3_ROUTES: tuple[str, ...] = tuple(template for template, _ in V3_TABLE)
