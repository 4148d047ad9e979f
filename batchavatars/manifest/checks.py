"""Checks across items: unique keys, parents and groups that exist, no cycles; and each item's
files (URL syntax, local files present and usable)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..spec import FileRef, Location
from ._explain import suggest
from ._yaml import YList, YMap
from .entry import Entry
from .files import FileChecker, file_ref, resolve_path, url_problem
from .media import url_extension_issue
from .model import AssetFile, PathFile, UrlFile
from .problems import Problems


def unique(entries: list[Entry], problems: Problems) -> dict[str, Entry]:
    """Every key's first entry; later ones are reported as duplicates."""
    known: dict[str, Entry] = {}
    for entry in entries:
        first = known.get(entry.key)
        if first is None:
            known[entry.key] = entry
            continue
        where = first.location()
        if entry.avatar is not None:  # template-made: it was made for this avatar
            message = (
                f"duplicate key `{entry.key}`: the look template makes it for avatar "
                f"`{entry.avatar.key}`, and it is already used (first at {where})"
            )
            fix = 'change the template\'s key (e.g. "{avatar}-office") or rename the other item'
        else:
            message = f"duplicate key `{entry.key}` (first at {where})"
            fix = "keys must be unique across avatars, looks and template-made looks: rename one"
        problems.add(message, entry.at("key"), entry.key, fix)
    return known


def groups(avatars: list[Entry], known: dict[str, Entry], problems: Problems) -> None:
    """An avatar's `group` names an avatar of this manifest."""
    avatar_keys = [k for k, e in known.items() if e.kind == "avatar"]
    for entry in avatars:
        group = entry.model.group
        if group is None:
            continue
        target = known.get(group)
        if target is None:
            if group in problems.invalid_keys:
                continue
            close = suggest(group, avatar_keys)
            problems.add(
                f"`group` names `{group}`, which is no avatar of this manifest",
                entry.at("group"),
                entry.key,
                f"did you mean `{close}`?"
                if close
                else "name the key of an avatar above, or use `avatar_group_id` for an existing HeyGen character",
            )
        elif target.kind != "avatar":
            problems.add(
                f"`group` names `{group}`, which is a look; `group` joins an avatar's character",
                entry.at("group"),
                entry.key,
                f"name the avatar `{group}` derives from, or make this a look with `avatar: {group}`",
            )


def twin_groups(avatars: list[Entry], known: dict[str, Entry], problems: Problems) -> None:
    """A digital twin can only join a digital-twin character (HeyGen refuses it otherwise). A
    character made in this manifest is of the type of the avatar that starts it: the end of the
    `group` chain. One that joins an existing `avatar_group_id` is of a type only HeyGen knows."""
    for entry in avatars:
        if entry.model.type != "digital_twin" or entry.model.group is None:
            continue
        founder = _founder(entry, known)
        if founder is None or founder.model.avatar_group_id is not None or founder.model.type == "digital_twin":
            continue
        via = "" if founder.key == entry.model.group else f" (through `{entry.model.group}`)"
        problems.add(
            f"`group` joins the character of `{founder.key}`{via}, a {founder.model.type} avatar; "
            "HeyGen lets a digital twin join only a digital-twin character",
            entry.at("group"),
            entry.key,
            "remove `group` to make the twin a character of its own, or name a digital_twin avatar",
        )


def _founder(entry: Entry, known: dict[str, Entry]) -> Entry | None:
    """The avatar at the end of `entry`'s `group` chain; None if the chain breaks or loops."""
    seen = {entry.key}
    node: Entry | None = entry
    while node is not None and node.model.group is not None:
        node = known.get(node.model.group)
        if node is None or node.kind != "avatar" or node.key in seen:
            return None
        seen.add(node.key)
    return node


def parents(looks: list[Entry], known: dict[str, Entry], problems: Problems) -> None:
    """A look's `avatar` names an avatar or look of this manifest."""
    every = list(known)
    for entry in looks:
        if entry.template is not None:
            continue
        parent = entry.model.avatar
        if parent is None or parent in known or parent in problems.invalid_keys:
            continue
        close = suggest(parent, every)
        problems.add(
            f"`avatar` names `{parent}`, which is no avatar or look of this manifest",
            entry.at("avatar"),
            entry.key,
            f"did you mean `{close}`?"
            if close
            else "name a key defined in this manifest, or use `avatar_id` for an existing HeyGen look",
        )


def cycles(entries: list[Entry], known: dict[str, Entry], problems: Problems) -> None:
    """Each cycle of `group`/`avatar` references, reported once at its first item."""
    parent: dict[str, str] = {}
    for entry in entries:
        p = entry.model.group if entry.kind == "avatar" else entry.model.avatar
        if p is not None and p in known and known[entry.key] is entry:
            parent[entry.key] = p
    order = {key: i for i, key in enumerate(known)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in parent:
        if start in state:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent.get(node)
        if node is not None and state.get(node) == 1:
            _cycle(path[path.index(node) :], order, known, problems)
        for key in path:
            state[key] = 2


def _cycle(ring: list[str], order: dict[str, int], known: dict[str, Entry], problems: Problems) -> None:
    first = min(range(len(ring)), key=lambda i: order[ring[i]])
    ring = ring[first:] + ring[:first]
    entry = known[ring[0]]
    problems.add(
        f"cycle: {' → '.join(ring + [ring[0]])}",
        entry.at("group" if entry.kind == "avatar" else "avatar"),
        ring[0],
        "break the cycle: one of them must derive from an avatar outside it "
        "(or from an existing HeyGen look via `avatar_id`)",
    )


class FileSlot:
    """Which file field a value is in: `container[slot]` of the item's raw data, what it must be."""

    __slots__ = ("slot", "label", "exts", "what")

    def __init__(self, slot: Any, label: str, exts: tuple[str, ...], what: str) -> None:
        self.slot, self.label, self.exts, self.what = slot, label, exts, what

    def where(self, entry: Entry, container: Any, value: Any) -> Location:
        """The value's position (only computed for a problem: finding positions is a scan)."""
        slot = self.slot
        if isinstance(container, YMap) and slot in container:
            line, col = container.value_pos(slot)
            inner = container[slot]
        elif isinstance(container, YList) and isinstance(slot, int) and slot < len(container):
            line, col = container.item_pos(slot)
            inner = container[slot]
        else:
            line, col = entry.line, entry.col
            inner = None
        if isinstance(value, (UrlFile, PathFile, AssetFile)) and isinstance(inner, YMap):
            sub = "url" if isinstance(value, UrlFile) else "path" if isinstance(value, PathFile) else "asset_id"
            if sub in inner:
                line, col = inner.value_pos(sub)
        return Location(entry.file, line + 1, col + 1)


def file(entry: Entry, container: Any, value: Any, slot: FileSlot, problems: Problems, checker: FileChecker) -> FileRef:
    """The FileRef of a `file`/reference-image value (in `container`): a URL's syntax and extension
    checked, a local file checked and its SHA-256 filled in."""
    if isinstance(value, str):
        ref, why = file_ref(value, entry.base)
    elif isinstance(value, UrlFile):
        ref, why = FileRef("url", value.url), url_problem(value.url)
    elif isinstance(value, PathFile):
        ref, why = FileRef("path", resolve_path(value.path, entry.base), written=value.path), None
    else:
        return FileRef("asset_id", value.asset_id)
    if ref.kind == "path" and why is None:
        issue, digest = checker.check(ref.value, slot.exts, slot.what)
        if issue is not None:
            problems.add(issue.message, slot.where(entry, container, value), entry.key, issue.fix)
        return replace(ref, sha256=digest)
    if why is None:
        wrong = url_extension_issue(ref.value, slot.exts, slot.what)
        if wrong is None:
            return ref
        why, fix = wrong
    elif isinstance(value, UrlFile):
        fix = "use a full address: https://<host>/<path>"
    else:
        fix = "use an http(s) URL, or a local path relative to the " + (
            "manifest" if entry.file == problems.manifest else "roster"
        )
    label = f"`{slot.label}.url` {value.url!r}" if isinstance(value, UrlFile) else f"`{slot.label}` {value!r}"
    problems.add(f"{label} {why}", slot.where(entry, container, value), entry.key, fix)
    return ref
