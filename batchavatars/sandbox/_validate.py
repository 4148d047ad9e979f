"""The shape of a `POST /v3/avatars` body, checked the way the real API checks it.

Only what the body alone can tell is checked here; whether a referenced asset, group or
look exists is the store's business.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ._envelope import invalid, missing

Kind = Literal["digital_twin", "photo", "prompt"]
Media = Literal["image", "video"]

# "video" is the digital-twin type's name on one older doc page.
_KINDS: dict[str, Kind] = {
    "digital_twin": "digital_twin",
    "video": "digital_twin",
    "photo": "photo",
    "prompt": "prompt",
}
AVATAR_TYPES: dict[Kind, str] = {
    "digital_twin": "digital_twin",
    "photo": "photo_avatar",
    # A prompt generates a photo of a person, so its look is a photo avatar; studio_avatar is
    # reserved for HeyGen's studio-recorded stock avatars, which no API call creates.
    "prompt": "photo_avatar",
}
MEDIA_TYPES: dict[Media, frozenset[str]] = {
    "image": frozenset({"image/png", "image/jpeg"}),
    "video": frozenset({"video/mp4", "video/webm"}),
}
PROMPT_MAX = 1000
REFERENCE_IMAGES_MAX = 3
REJECT_MARK = "[reject]"  # lets tests force a 400


@dataclass(frozen=True, slots=True)
class AssetRef:
    asset_id: str
    media: Media
    param: str


@dataclass(frozen=True, slots=True)
class CreateSpec:
    kind: Kind
    name: str
    file: dict[str, Any] | None
    prompt: str | None
    avatar_group_id: str | None
    avatar_id: str | None
    reference_images: list[dict[str, Any]]
    assets: list[AssetRef]  # asset_id file objects still to be resolved
    fingerprint: bytes  # of the canonical body, to spot duplicate creations

    @property
    def avatar_type(self) -> str:
        return AVATAR_TYPES[self.kind]


def parse_create(body: Any) -> CreateSpec:
    if not isinstance(body, dict):
        raise missing("body")
    kind = _kind(body.get("type"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise missing("name")
    if REJECT_MARK in name:
        raise invalid(f"name contains {REJECT_MARK}, which the sandbox always rejects", "name")
    avatar_group_id = body.get("avatar_group_id")
    if avatar_group_id is not None and (not isinstance(avatar_group_id, str) or not avatar_group_id):
        raise invalid("avatar_group_id must be a non-empty string", "avatar_group_id")

    assets: list[AssetRef] = []
    if kind == "prompt":
        reference_images = _check_prompt(body, assets)
    else:
        for field in ("prompt", "avatar_id", "reference_images"):
            if body.get(field) is not None:
                raise invalid(f"{field} is only accepted for type prompt", field)
        if body.get("file") is None:
            raise missing("file")
        _check_file(body["file"], "video" if kind == "digital_twin" else "image", "file", assets)
        reference_images = []

    canonical: dict[str, Any] = {
        "type": kind,
        "name": name,
        "file": body.get("file"),
        "prompt": body.get("prompt"),
        "avatar_group_id": avatar_group_id,
        "avatar_id": body.get("avatar_id"),
        "reference_images": reference_images,
    }
    fingerprint = hashlib.blake2b(json.dumps(canonical, sort_keys=True).encode(), digest_size=16).digest()
    return CreateSpec(
        kind=kind,
        name=name,
        file=canonical["file"],
        prompt=canonical["prompt"],
        avatar_group_id=avatar_group_id,
        avatar_id=canonical["avatar_id"],
        reference_images=reference_images,
        assets=assets,
        fingerprint=fingerprint,
    )


def _kind(raw_type: Any) -> Kind:
    if raw_type is None:
        raise missing("type")
    kind = _KINDS.get(raw_type) if isinstance(raw_type, str) else None
    if kind is None:
        raise invalid(f"type must be one of digital_twin, photo, prompt; got {raw_type!r}", "type")
    return kind


def _check_prompt(body: dict[str, Any], assets: list[AssetRef]) -> list[dict[str, Any]]:
    """Check a prompt creation's own fields; its reference images, as a list."""
    if body.get("file") is not None:
        raise invalid("file is not accepted for type prompt; use reference_images", "file")
    prompt = body.get("prompt")
    if prompt is None:
        raise missing("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt must be a non-empty string", "prompt")
    if len(prompt) > PROMPT_MAX:
        raise invalid(f"prompt is {len(prompt)} characters; the limit is {PROMPT_MAX}", "prompt")
    avatar_id = body.get("avatar_id")
    if avatar_id is not None and (not isinstance(avatar_id, str) or not avatar_id):
        raise invalid("avatar_id must be a non-empty string", "avatar_id")
    reference_images = body.get("reference_images")
    if reference_images is None:
        return []
    if not isinstance(reference_images, list):
        raise invalid("reference_images must be a list of file objects", "reference_images")
    if len(reference_images) > REFERENCE_IMAGES_MAX:
        raise invalid(
            f"at most {REFERENCE_IMAGES_MAX} reference_images are allowed, got {len(reference_images)}",
            "reference_images",
        )
    for i, image in enumerate(reference_images):
        _check_file(image, "image", f"reference_images[{i}]", assets)
    return reference_images


def parse_file(file: Any, media: Media, param: str) -> list[AssetRef]:
    """Check one file object; the asset it names, if any, is left for the caller to resolve."""
    assets: list[AssetRef] = []
    _check_file(file, media, param, assets)
    return assets


def check_url(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise missing(param)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(f"{param} must be an http or https URL, got {value!r}", param)
    return value


def _check_file(file: Any, media: Media, param: str, assets: list[AssetRef]) -> None:
    if not isinstance(file, dict):
        raise invalid(f"{param} must be a file object with type url, asset_id or base64", param)
    kind = file.get("type")
    if kind == "url":
        check_url(file.get("url"), f"{param}.url")
    elif kind == "asset_id":
        asset_id = file.get("asset_id")
        if not isinstance(asset_id, str) or not asset_id:
            raise missing(f"{param}.asset_id")
        assets.append(AssetRef(asset_id, media, param))
    elif kind == "base64":
        media_type = file.get("media_type")
        if not isinstance(media_type, str) or not media_type:
            raise missing(f"{param}.media_type")
        if media_type not in MEDIA_TYPES[media]:
            allowed = ", ".join(sorted(MEDIA_TYPES[media]))
            raise invalid(f"{param}.media_type must be one of {allowed}, got {media_type!r}", f"{param}.media_type")
        data = file.get("data")
        if not isinstance(data, str) or not data:
            raise missing(f"{param}.data")
        try:
            binascii.a2b_base64(data, strict_mode=True)
        except binascii.Error:
            raise invalid(f"{param}.data is not valid base64", f"{param}.data") from None
    elif kind is None:
        raise missing(f"{param}.type")
    else:
        raise invalid(f"{param}.type must be url, asset_id or base64, got {kind!r}", f"{param}.type")
