"""The /v3/avatars routes: create, read, list, rename, delete, consent."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._assets import media_class
from ._avatars import Group, Look
from ._envelope import ApiFailure, access_denied, invalid, missing, not_available, not_found
from ._http import Routes, json_object, ownership, page_response
from ._paging import decode_token, page, parse_limit
from ._policy import json_response, retry_after
from ._validate import REJECT_MARK, AssetRef, CreateSpec, check_url, parse_create, parse_file

_LOOK_TYPES = frozenset({"digital_twin", "photo_avatar", "studio_avatar"})
FAIL_MARK = "[fail]"  # a look whose name holds this always fails training


class AvatarRoutes(Routes):
    async def create_avatar(self, request: Request) -> Response:
        state = self.state
        if state.config.forbidden:
            raise ApiFailure(403, "forbidden", "this account's API tier does not include avatar creation")
        spec = parse_create(await json_object(request))
        now = state.clock()
        self.check_assets(spec.assets, creation=True)
        group = self._target_group(spec, now)
        self._admit(now)

        cfg, rng = state.config, state.rng
        duration = cfg.training_seconds
        if cfg.training_jitter:
            duration = max(0.0, duration * (1.0 + cfg.training_jitter * rng.uniform(-1.0, 1.0)))
        doomed = FAIL_MARK in spec.name or bool(cfg.training_failure_rate and rng.random() < cfg.training_failure_rate)
        gate = cfg.consent_signal != "group"
        look = state.avatars.create(spec, group, duration=duration, doomed=doomed, gate=gate, now=now)
        if cfg.credits is not None:
            cfg.credits -= 1
        item: dict[str, Any] | None = self.look_json(look, request)
        if cfg.null_avatar_item and rng.random() < cfg.null_avatar_item:
            state.stats.null_avatar_items += 1
            item = None  # the look exists all the same: a client finds it by name and group
        return json_response(200, {"data": {"avatar_item": item, "avatar_group": self.group_json(look.group)}})

    def _admit(self, now: float) -> None:
        """402 when out of credits, 429 when the account's training slots are full."""
        state = self.state
        cfg = state.config
        if cfg.credits is not None and cfg.credits <= 0:
            raise ApiFailure(402, "insufficient_credit", "not enough credits to create an avatar")
        if cfg.quota_exceeded:
            state.stats.rate_limited["quota"] += 1
            raise ApiFailure(
                429,
                "quota_exceeded",
                "the account's usage quota for avatar creation is used up",
                headers={"Retry-After": retry_after(3600.0, cfg.retry_after_format)},
            )
        cap = cfg.max_concurrent_training
        training = state.avatars.training
        if cap is not None and training.count(now) >= cap:
            state.stats.rate_limited["concurrency"] += 1
            next_end = training.next_end(now)
            wait = next_end - now if next_end is not None else 1.0
            raise ApiFailure(
                429,
                "rate_limit_exceeded",
                f"concurrent job limit reached: {cap} avatars are already training; retry when one finishes",
                headers={"Retry-After": retry_after(wait, cfg.retry_after_format)},
            )

    def check_assets(self, refs: list[AssetRef], *, creation: bool = False) -> None:
        """Every asset named exists on the account, has completed processing and is the right media."""
        now = self.state.clock()
        for ref in refs:
            asset = self.state.assets.get(ref.asset_id, now)
            param = f"{ref.param}.asset_id"
            if asset is None:
                raise not_found("asset", ref.asset_id, param)
            status = asset.status(now)
            if status == "failed":  # for good: waiting does not help, unlike asset_not_available
                raise invalid(f"asset {ref.asset_id!r} failed processing; upload the file again", ref.param)
            if status != "completed":
                if creation:
                    self.state.stats.creations_with_unready_asset += 1
                raise not_available(ref.asset_id, status, param)
            if media_class(asset.mime_type) != ref.media:
                raise invalid(f"asset {ref.asset_id!r} is {asset.mime_type}; {ref.param} needs an {ref.media}", param)

    def _target_group(self, spec: CreateSpec, now: float) -> Group | None:
        """The group the new look joins; None for a new group."""
        group = None
        if spec.avatar_group_id is not None:
            group = self.group(spec.avatar_group_id, "avatar_group_id")
            if spec.kind == "digital_twin" and not group.is_twin:
                raise invalid("a digital twin can only join a digital-twin avatar group", "avatar_group_id")
        if spec.avatar_id is not None:
            parent = self.state.avatars.look(spec.avatar_id)
            if parent is None:
                raise not_found("look", spec.avatar_id, "avatar_id")
            status = parent.status(now)
            if status != "completed":
                raise invalid(
                    f"look {spec.avatar_id!r} has no usable image (status {status}): "
                    "a new look can only be made from a look whose training has completed",
                    "avatar_id",
                )
            if group is not None and parent.group is not group:
                raise invalid(f"look {spec.avatar_id!r} does not belong to avatar group {group.id!r}", "avatar_id")
            group = parent.group
        return group

    # --- reads -----------------------------------------------------------------------------

    def look_json(self, look: Look, request: Request) -> dict[str, Any]:
        return look.to_json(self.state.clock(), str(request.base_url))

    def group_json(self, group: Group) -> dict[str, Any]:
        return group.to_json(self.state.clock(), self.state.config.consent_signal)

    def look(self, look_id: str) -> Look:
        look = self.state.avatars.look(look_id)
        if look is None:
            raise not_found("look", look_id)
        return look

    def group(self, group_id: str, param: str | None = None) -> Group:
        if group_id in self.state.config.foreign_groups:
            raise access_denied("avatar group", group_id, param or "avatar_group_id")
        group = self.state.avatars.group(group_id)
        if group is None:
            raise not_found("avatar group", group_id, param)
        return group

    async def get_look(self, request: Request) -> Response:
        return json_response(200, {"data": self.look_json(self.look(request.path_params["look_id"]), request)})

    async def get_group(self, request: Request) -> Response:
        return json_response(200, {"data": self.group_json(self.group(request.path_params["group_id"]))})

    async def list_looks(self, request: Request) -> Response:
        state = self.state
        query = request.query_params
        owner = ownership(query.get("ownership"))
        avatar_type = query.get("avatar_type") or None
        if avatar_type is not None and avatar_type not in _LOOK_TYPES:
            raise invalid(f"avatar_type must be one of {', '.join(sorted(_LOOK_TYPES))}", "avatar_type")
        group_id = query.get("group_id") or None
        limit = parse_limit(query.get("limit"), state.config.page_max)
        filters = f"looks|{group_id}|{avatar_type}|{owner}"
        start = decode_token(query.get("token"), filters)
        avatars = state.avatars
        items: list[Look]
        if group_id is not None:
            items = self.group(group_id, "group_id").looks
        elif avatar_type is not None:
            items = avatars.looks_by_type.get(avatar_type, [])
        else:
            items = avatars.looks
        if owner == "public":
            items = []  # the sandbox has no catalogue of public (stock) avatars

        def keep(look: Look) -> bool:
            return not look.deleted and (avatar_type is None or look.avatar_type == avatar_type)

        rows, next_index = page(items, start, limit, keep)
        data = [self.look_json(look, request) for look in rows]
        if state.config.list_status == "omit":  # "status is only present for private avatars"
            for row in data:
                del row["status"], row["error"]
        return page_response(data, next_index, filters)

    async def list_groups(self, request: Request) -> Response:
        state = self.state
        query = request.query_params
        owner = ownership(query.get("ownership"))
        limit = parse_limit(query.get("limit"), state.config.page_max)
        filters = f"groups|{owner}"
        start = decode_token(query.get("token"), filters)
        items = [] if owner == "public" else state.avatars.groups
        rows, next_index = page(items, start, limit, lambda group: not group.deleted)
        return page_response([self.group_json(group) for group in rows], next_index, filters)

    # --- changes ---------------------------------------------------------------------------

    async def rename_look(self, request: Request) -> Response:
        look = self.look(request.path_params["look_id"])
        body = await json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise missing("name")
        if REJECT_MARK in name:
            raise invalid(f"name contains {REJECT_MARK}, which the sandbox always rejects", "name")
        if look.kind == "prompt":
            raise invalid(
                "only photo and digital-twin looks can be renamed; this look was made from a prompt", "look_id"
            )
        self.state.avatars.rename(look, name)
        return json_response(200, {"data": self.look_json(look, request)})

    async def delete_look(self, request: Request) -> Response:
        look = self.look(request.path_params["look_id"])
        group_deleted = self.state.avatars.delete_look(look)
        return json_response(200, {"data": {"id": look.id, "deleted": True, "group_deleted": group_deleted}})

    async def delete_group(self, request: Request) -> Response:
        group = self.group(request.path_params["group_id"])
        self.state.avatars.delete_group(group)
        return json_response(200, {"data": {"id": group.id, "deleted": True}})

    async def request_consent(self, request: Request) -> Response:
        state = self.state
        group = self.group(request.path_params["group_id"])
        if not group.is_twin:
            raise invalid(f"avatar group {group.id!r} is not a digital twin; only digital twins need consent")
        body = await json_object(request, optional=True)
        if body.get("reroute_url") is not None:
            check_url(body["reroute_url"], "reroute_url")
        consent_video = body.get("consent_video")
        now = state.clock()
        delay = state.config.consent_approval_seconds
        if consent_video is not None:
            # Enterprise: the recorded consent comes with the request, so no human step is awaited.
            self.check_assets(parse_file(consent_video, "video", "consent_video"))
            url = None
            state.avatars.request_consent(group, now, delay, video=True)
        else:
            url = state.avatars.request_consent(group, now, delay)
        data: dict[str, Any] = {"avatar_group": self.group_json(group)}
        if url is not None:
            data["url"] = url
        return json_response(200, {"data": data})
