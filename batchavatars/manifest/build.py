"""Checked entries → ItemSpecs, what the plan orders and the runner sends."""

from __future__ import annotations

from ..spec import FileRef, ItemSpec
from . import checks
from ._yaml import YMap
from .checks import FileSlot
from .entry import Entry
from .files import PHOTO_EXTS, VIDEO_EXTS, FileChecker, url_problem
from .model import DigitalTwinAvatar
from .problems import Problems

PHOTO = FileSlot("file", "file", PHOTO_EXTS, "photo")
FOOTAGE = FileSlot("file", "file", VIDEO_EXTS, "training footage")


def build(entries: list[Entry], problems: Problems, checker: FileChecker) -> list[ItemSpec]:
    return [_look(e) if e.kind == "look" else _avatar(e, problems, checker) for e in entries]


def _look(entry: Entry) -> ItemSpec:
    model = entry.model
    return ItemSpec(
        entry.key,
        "look",
        "prompt",
        model.name,
        entry.location(),
        parent=model.avatar,
        avatar_id=model.avatar_id,
        prompt=model.prompt,
    )


def _avatar(entry: Entry, problems: Problems, checker: FileChecker) -> ItemSpec:
    model = entry.model
    kind = model.type
    file = None
    refs: tuple[FileRef, ...] = ()
    prompt = None
    consent = None
    if kind == "prompt":
        prompt = model.prompt
        if model.reference_images:
            raw_refs = entry.raw.get("reference_images") if isinstance(entry.raw, YMap) else None
            refs = tuple(
                checks.file(
                    entry,
                    raw_refs,
                    value,
                    FileSlot(i, f"reference_images[{i}]", PHOTO_EXTS, "reference image"),
                    problems,
                    checker,
                )
                for i, value in enumerate(model.reference_images)
            )
    else:
        slot = FOOTAGE if kind == "digital_twin" else PHOTO
        file = checks.file(entry, entry.raw, model.file, slot, problems, checker)
        if isinstance(model, DigitalTwinAvatar) and model.consent is not None:
            consent = model.consent.reroute_url
            if consent is not None:
                _check_consent(entry, consent, problems)
    return ItemSpec(
        entry.key,
        "avatar",
        kind,
        model.name,
        entry.location(),
        parent=model.group,
        avatar_group_id=model.avatar_group_id,
        file=file,
        prompt=prompt,
        reference_images=refs,
        consent_reroute_url=consent,
    )


def _check_consent(entry: Entry, url: str, problems: Problems) -> None:
    why = url_problem(url)
    if not why:
        return
    raw_c = entry.raw.get("consent")
    loc = problems.at(*raw_c.value_pos("reroute_url"), entry.file) if isinstance(raw_c, YMap) else entry.at("consent")
    problems.add(f"`consent.reroute_url` {why}", loc, entry.key, "use a full address: https://<host>/<path>")
