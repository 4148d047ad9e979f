"""load_manifest: bytes → YAML (line-tracking) → pydantic models → references, templates, roster
rows, cycles and local files checked → ItemSpecs. Every problem found is collected; one
ManifestError names them all, and nothing else escapes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ManifestError, Problem
from ..spec import FileRef, ItemSpec, Location
from . import _yaml
from ._errors import describe, plural, suggest, translate
from ._yaml import YamlProblem, YList, YMap
from .expand import RosterError, TemplateError, fill, key_problem, parse_template, read_roster
from .files import (
    PHOTO_EXTS,
    VIDEO_EXTS,
    FileChecker,
    SourceError,
    file_ref,
    read_source,
    resolve_path,
    url_problem,
)
from .model import (
    NAME_MAX,
    PROMPT_MAX,
    SUPPORTED_VERSIONS,
    AssetFile,
    DigitalTwinAvatar,
    ForEachFilter,
    Look,
    LookTemplate,
    PathFile,
    UrlFile,
    avatar_adapter,
    avatars_adapter,
    look_adapter,
    manifest_adapter,
    template_adapter,
)

MAX_REPORTS_PER_TEMPLATE = 5
MAX_PROBLEMS = 500  # a ManifestError lists this many; beyond, it says how many more there are
MAX_ITEMS = 1_000_000  # avatars + looks, template-made ones included


@dataclass(frozen=True)
class Manifest:
    """A loaded, valid manifest."""

    path: Path  # absolute
    items: tuple[ItemSpec, ...]  # avatars (YAML, then roster rows), then looks (incl. template-made)
    notes: list[str] = field(default_factory=list)  # non-fatal remarks
    version: int = 1


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Load and check the manifest at `path`. Raises ManifestError, and nothing else, for any input."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ManifestError([Problem(f"{path!r} is not a file path", None, None, "pass the manifest's path")])
    try:
        return _Loader(path).run()
    except ManifestError:
        raise
    except Exception as exc:  # a bug; still a ManifestError, never a traceback
        shown = path if isinstance(path, str) else repr(path)
        raise ManifestError(
            [
                Problem(
                    f"{shown}: could not load the manifest (internal error {type(exc).__name__}: {exc})",
                    None,
                    None,
                    "please report this with the manifest attached",
                )
            ]
        ) from exc


class _Entry:
    """One item on its way to an ItemSpec, with what is needed to point at its fields."""

    __slots__ = ("key", "kind", "model", "raw", "file", "base", "line", "col", "template", "avatar")

    def __init__(
        self,
        key: str,
        kind: str,
        model: Any,
        raw: Any,
        file: str,
        base: str,
        line: int,
        col: int,
        template: Any = None,
        avatar: _Entry | None = None,
    ) -> None:
        self.key, self.kind, self.model, self.raw = key, kind, model, raw
        self.file, self.base, self.line, self.col = file, base, line, col
        self.template, self.avatar = template, avatar  # for template-made looks

    def location(self) -> Location:
        return Location(self.file, self.line + 1, self.col + 1)

    def at(self, name: str, *, key: bool = False) -> Location:
        raw = self.raw
        if isinstance(raw, YMap) and name in raw:
            line, col = raw.key_pos(name) if key else raw.value_pos(name)
            return Location(self.file, line + 1, col + 1)
        return self.location()


class _Loader:
    def __init__(self, path: Any) -> None:
        shown = os.fspath(path)
        if isinstance(shown, bytes):
            shown = os.fsdecode(shown)
        self.shown: str = shown
        self.abspath = os.path.abspath(shown) if shown else ""
        self.base = os.path.dirname(self.abspath)
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.files = FileChecker()
        self.invalid_keys: set[str] = set()  # keys of items that failed validation: no follow-up errors
        self.invalid_avatar_keys: set[str] = set()
        self.roster_shown: str | None = None
        self.originals: dict[tuple[int, int], str] = {}
        self.unworded = 0  # validation errors beyond MAX_PROBLEMS, counted but not worded

    # -- helpers ---------------------------------------------------------------------------------

    def at(self, line: int | None, col: int | None, file: str | None = None) -> Location | None:
        if line is None or col is None:
            return None
        return Location(file or self.shown, line + 1, col + 1)

    def add(self, message: str, location: Location | None, key: str | None = None, fix: str | None = None) -> None:
        self.problems.append(Problem(message, location, key, fix))

    def room(self) -> int:
        return max(MAX_PROBLEMS - len(self.problems), 1)

    def fail(self) -> None:
        if not self.problems:
            return
        order = {self.shown: 0}
        if self.roster_shown:
            order[self.roster_shown] = 1

        def sort_key(p: Problem) -> tuple[int, int, int]:
            if p.location is None:
                return (-1, 0, 0)
            return (order.get(p.location.file, 2), p.location.line, p.location.col)

        problems = sorted(self.problems, key=sort_key)
        more = self.unworded + max(len(problems) - MAX_PROBLEMS, 0)
        if more:
            rest = problems[MAX_PROBLEMS:]
            problems = problems[:MAX_PROBLEMS]
            where = rest[0].location if rest else problems[-1].location
            problems.append(
                Problem(
                    f"and {more} more problems not listed", where, None, "fix the problems above, then validate again"
                )
            )
        raise ManifestError(problems)

    # -- the stages --------------------------------------------------------------------------------

    def run(self) -> Manifest:
        if not self.shown:
            self.add("no manifest path given", None, None, "pass the path of a manifest YAML file")
            self.fail()
        try:
            data = read_source(self.abspath, f"manifest {self.shown}")
        except SourceError as exc:
            self.add(exc.message, self.at(exc.line, exc.col), None, exc.fix)
            self.fail()
            raise AssertionError from None  # unreachable
        try:
            root, yaml_problems, self.originals = _yaml.load(data)
        except YamlProblem as exc:
            self.add(exc.message, self.at(exc.line, exc.col), None, exc.fix)
            self.fail()
            raise AssertionError from None
        for yp in yaml_problems:
            self.add(yp.message, self.at(yp.line, yp.col), None, yp.fix)
        if any(yp.stop for yp in yaml_problems):
            self.fail()
        if not isinstance(root, YMap):
            line, col = getattr(root, "line", 0), getattr(root, "col", 0)
            kind = "a list" if isinstance(root, list) else ("empty" if root is None else "a single value")
            self.add(
                f"the manifest must be a YAML mapping (with `version: 1`, `avatars:` and so on); this one is {kind}",
                self.at(line, col),
                None,
                "start from `batchavatars init`, or write `version: 1` on the first line",
            )
            self.fail()
        if not self.check_version(root):
            self.fail()
        root = _without_extensions(root)
        avatars, looks, templates, avatars_from = self.validate(root)
        entries = self.avatar_entries(root, avatars)
        if avatars_from is not None:
            entries += self.roster(root, avatars_from)
        look_entries = self.look_entries(root, looks)
        template_entries = self.expand(root, templates, entries, look_entries)
        if "look_templates" in root and "looks" in root and root.key_pos("look_templates") < root.key_pos("looks"):
            look_entries = template_entries + look_entries
        else:
            look_entries = look_entries + template_entries
        every = entries + look_entries
        known = self.unique(every)
        self.references(entries, look_entries, known)
        self.cycles(every, known)
        specs = self.specs(every)
        if not every and not self.problems:
            self.notes.append(f"{self.shown}: the manifest has no avatars or looks")
        self.fail()
        return Manifest(Path(self.abspath), tuple(specs), self.notes)

    def check_version(self, root: YMap) -> bool:
        """False when the document is of a version this code cannot read (stop there)."""
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        if "version" not in root:
            self.add(
                "missing `version`",
                self.at(root.line, root.col),
                None,
                f"add `version: 1` as the first line (supported versions: {supported})",
            )
            return True
        value = root["version"]
        where = self.at(*root.value_pos("version"))
        if type(value) is int:
            if value in SUPPORTED_VERSIONS:
                return True
            self.add(
                f"unsupported manifest version {value}",
                where,
                None,
                f"this batchavatars reads manifest version {supported}: write `version: 1` "
                "(or upgrade batchavatars if the manifest was written for a newer one)",
            )
            return False
        if isinstance(value, (str, float)) and str(value).strip() in {str(v) for v in SUPPORTED_VERSIONS} | {
            f"{v}.0" for v in SUPPORTED_VERSIONS
        }:
            self.add(f"`version` must be the whole number 1, not {describe(value)}", where, None, "write `version: 1`")
            return True
        self.add(
            f"`version` must be a whole number (supported versions: {supported}), not {describe(value)}",
            where,
            None,
            "write `version: 1`",
        )
        return True

    def validate(
        self, root: YMap
    ) -> tuple[list[tuple[int, Any]], list[tuple[int, Look]], list[tuple[int, LookTemplate]], str | None]:
        try:
            model = manifest_adapter.validate_python(root)
        except ValidationError as exc:
            found, more = translate(
                exc.errors(include_url=False),
                root,
                self.shown,
                skip_loc=lambda loc: loc[:1] == ("version",),
                originals=self.originals,
                limit=self.room(),
            )
            self.problems += found
            self.unworded += more
        else:
            return (
                list(enumerate(model.avatars)),
                list(enumerate(model.looks)),
                list(enumerate(model.look_templates)),
                model.avatars_from,
            )
        avatars = self.salvage(root.get("avatars"), avatar_adapter, avatar=True)
        looks = self.salvage(root.get("looks"), look_adapter)
        templates = self.salvage(root.get("look_templates"), template_adapter)
        avatars_from = root.get("avatars_from")
        if not isinstance(avatars_from, str) or not avatars_from:
            avatars_from = None
        return avatars, looks, templates, avatars_from

    def salvage(self, raw: Any, adapter: Any, avatar: bool = False) -> list[tuple[int, Any]]:
        """The valid entries of a list that failed validation (errors were already reported)."""
        if not isinstance(raw, list):
            return []
        good = []
        for index, item in enumerate(raw):
            try:
                good.append((index, adapter.validate_python(item)))
            except ValidationError:
                if isinstance(item, dict) and isinstance(item.get("key"), str):
                    self.invalid_keys.add(item["key"])
                    if avatar:
                        self.invalid_avatar_keys.add(item["key"])
        return good

    def avatar_entries(self, root: YMap, avatars: list[tuple[int, Any]]) -> list[_Entry]:
        if not avatars:
            return []
        raw_list: YList = root["avatars"]  # there are valid avatars, so there is their list
        out = []
        for index, model in avatars:
            raw = raw_list[index]
            out.append(_Entry(model.key, "avatar", model, raw, self.shown, self.base, raw.line, raw.col))
        return out

    def look_entries(self, root: YMap, looks: list[tuple[int, Look]]) -> list[_Entry]:
        if not looks:
            return []
        raw_list: YList = root["looks"]  # as in avatar_entries
        out = []
        for index, model in looks:
            raw = raw_list[index]
            out.append(_Entry(model.key, "look", model, raw, self.shown, self.base, raw.line, raw.col))
        return out

    def roster(self, root: YMap, avatars_from: str) -> list[_Entry]:
        where = self.at(*root.value_pos("avatars_from"))
        csv_abs = resolve_path(avatars_from, self.base)
        shown = os.path.normpath(os.path.join(os.path.dirname(self.shown), os.path.expanduser(avatars_from)))
        self.roster_shown = shown
        try:
            data = read_source(csv_abs, f"roster {shown}")
        except SourceError as exc:
            location = self.at(exc.line, exc.col, shown) if exc.line is not None else where
            self.add(exc.message, location, None, exc.fix)
            return []
        try:
            rows, row_problems = read_roster(data)
        except RosterError as exc:
            self.add(exc.message, self.at(exc.line, exc.col, shown), None, exc.fix)
            return []
        for rp in row_problems:
            self.add(rp.message, self.at(rp.line, rp.col, shown), None, rp.fix)
        if not rows:
            self.notes.append(f"{shown}: the roster has a header but no rows")
            return []
        base = os.path.dirname(csv_abs)
        rows_yl = _yaml.ylist(0, 0)  # no item positions: each CsvRow carries its own
        rows_yl.extend(rows)
        try:
            models = list(enumerate(avatars_adapter.validate_python(rows_yl)))
        except ValidationError as exc:
            found, more = translate(exc.errors(include_url=False), rows_yl, shown, csv=True, limit=self.room())
            self.problems += found
            self.unworded += more
            models = self.salvage(rows_yl, avatar_adapter, avatar=True)
        return [
            _Entry(model.key, "avatar", model, rows[index], shown, base, rows[index].line, 0) for index, model in models
        ]

    # -- templates -----------------------------------------------------------------------------------

    def expand(
        self, root: YMap, templates: list[tuple[int, LookTemplate]], avatars: list[_Entry], looks: list[_Entry]
    ) -> list[_Entry]:
        if not templates:
            return []
        raw_list: YList = root["look_templates"]  # as in avatar_entries
        by_key = {e.key: e for e in avatars}
        look_keys = {e.key for e in looks}
        out: list[_Entry] = []
        for index, tpl in templates:
            raw: YMap = raw_list[index]
            parts: dict[str, Any] = {}
            broken = False
            for name in ("key", "name", "prompt"):
                try:
                    parts[name] = parse_template(getattr(tpl, name))
                except TemplateError as exc:
                    self.add(
                        f"look template `{name}` {exc}",
                        self.at(*raw.value_pos(name)),
                        None,
                        "use only {avatar}, {name} and {type}",
                    )
                    broken = True
            selected = self.select(raw, tpl, by_key, look_keys)
            if broken:
                continue
            if len(avatars) + len(looks) + len(out) + len(selected) > MAX_ITEMS:
                self.add(
                    f"look templates would make more than {MAX_ITEMS:,} items",
                    self.at(raw.line, raw.col),
                    None,
                    "split the manifest, or select fewer avatars in `for_each`",
                )
                break
            reports = 0
            for avatar in selected:
                values = {"avatar": avatar.key, "name": avatar.model.name, "type": avatar.model.type}
                key = fill(parts["key"], values)
                name = fill(parts["name"], values)
                prompt = fill(parts["prompt"], values)
                issues = []
                why = key_problem(key)
                if why:
                    hint = (
                        " (use {avatar} in keys: names may hold spaces and capitals)"
                        if "name" in {f for _, f in parts["key"]}
                        else ""
                    )
                    issues.append(
                        (
                            "key",
                            f"look template key gives {key!r} for avatar `{avatar.key}`, not a valid key",
                            f"{why}{hint}",
                        )
                    )
                if len(name) > NAME_MAX:
                    issues.append(
                        (
                            "name",
                            f"look template name gives {len(name)} characters for avatar "
                            f"`{avatar.key}`; the limit is {NAME_MAX}",
                            f"shorten the template name by {plural(len(name) - NAME_MAX, 'character')}",
                        )
                    )
                if len(prompt) > PROMPT_MAX:
                    issues.append(
                        (
                            "prompt",
                            f"look template prompt gives {len(prompt)} characters for avatar "
                            f"`{avatar.key}`; the limit is {PROMPT_MAX}",
                            f"shorten the template prompt by {plural(len(prompt) - PROMPT_MAX, 'character')}",
                        )
                    )
                if issues:
                    for fname, message, fix in issues:
                        reports += 1
                        if reports <= MAX_REPORTS_PER_TEMPLATE:
                            self.add(message, self.at(*raw.value_pos(fname)), key, fix)
                    self.invalid_keys.add(key)
                    continue
                model = Look.model_construct(key=key, avatar=avatar.key, avatar_id=None, name=name, prompt=prompt)
                out.append(
                    _Entry(
                        key, "look", model, raw, self.shown, self.base, raw.line, raw.col, template=tpl, avatar=avatar
                    )
                )
            if reports > MAX_REPORTS_PER_TEMPLATE:
                self.add(
                    f"look template: {reports - MAX_REPORTS_PER_TEMPLATE} more problems like the ones above",
                    self.at(raw.line, raw.col),
                    None,
                    "fix the template",
                )
        return out

    def select(self, raw: YMap, tpl: LookTemplate, by_key: dict[str, _Entry], look_keys: set[str]) -> list[_Entry]:
        choice = tpl.for_each
        where = self.at(*raw.value_pos("for_each"))
        if choice == "all":
            if not by_key:
                self.notes.append(f"{where}: look template for_each: all, but there are no avatars; it makes no looks")
            return list(by_key.values())
        if isinstance(choice, ForEachFilter):
            wanted = {choice.type} if isinstance(choice.type, str) else set(choice.type)
            chosen = [a for a in by_key.values() if a.model.type in wanted]
            if not chosen:
                shown = choice.type if isinstance(choice.type, str) else "[" + ", ".join(choice.type) + "]"
                self.notes.append(
                    f"{where}: look template for_each {{type: {shown}}} matches no avatar; it makes no looks"
                )
            return chosen
        raw_keys: YList = raw["for_each"]
        chosen = []
        seen: set[str] = set()
        for i, key in enumerate(choice):
            at = self.at(*raw_keys.item_pos(i))
            if key in seen:
                self.add(f"`for_each` lists `{key}` twice", at, None, "list each avatar once")
                continue
            seen.add(key)
            if key in by_key:
                chosen.append(by_key[key])
            elif key in self.invalid_avatar_keys:
                continue
            elif key in look_keys:
                self.add(
                    f"`for_each` lists `{key}`, which is a look; look templates apply to avatars",
                    at,
                    None,
                    "list avatar keys only (to restyle a look, add it under `looks:` with `avatar: " + key + "`)",
                )
            else:
                close = suggest(key, list(by_key))
                self.add(
                    f"`for_each` lists `{key}`, which is no avatar of this manifest",
                    at,
                    None,
                    f"did you mean `{close}`?"
                    if close
                    else "list keys of avatars defined under `avatars:` or in the roster",
                )
        return chosen

    # -- cross-item checks -----------------------------------------------------------------------------

    def unique(self, entries: list[_Entry]) -> dict[str, _Entry]:
        known: dict[str, _Entry] = {}
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
            self.add(message, entry.at("key"), entry.key, fix)
        return known

    def references(self, avatars: list[_Entry], looks: list[_Entry], known: dict[str, _Entry]) -> None:
        avatar_keys = [k for k, e in known.items() if e.kind == "avatar"]
        for entry in avatars:
            group = entry.model.group
            if group is None:
                continue
            target = known.get(group)
            if target is None:
                if group in self.invalid_keys:
                    continue
                close = suggest(group, avatar_keys)
                self.add(
                    f"`group` names `{group}`, which is no avatar of this manifest",
                    entry.at("group"),
                    entry.key,
                    f"did you mean `{close}`?"
                    if close
                    else "name the key of an avatar above, or use `avatar_group_id` for an existing HeyGen character",
                )
            elif target.kind != "avatar":
                self.add(
                    f"`group` names `{group}`, which is a look; `group` joins an avatar's character",
                    entry.at("group"),
                    entry.key,
                    f"name the avatar `{group}` derives from, or make this a look with `avatar: {group}`",
                )
        every = list(known)
        for entry in looks:
            if entry.template is not None:
                continue
            parent = entry.model.avatar
            if parent is None or parent in known or parent in self.invalid_keys:
                continue
            close = suggest(parent, every)
            self.add(
                f"`avatar` names `{parent}`, which is no avatar or look of this manifest",
                entry.at("avatar"),
                entry.key,
                f"did you mean `{close}`?"
                if close
                else "name a key defined in this manifest, or use `avatar_id` for an existing HeyGen look",
            )

    def cycles(self, entries: list[_Entry], known: dict[str, _Entry]) -> None:
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
                ring = path[path.index(node) :]
                first = min(range(len(ring)), key=lambda i: order[ring[i]])
                ring = ring[first:] + ring[:first]
                entry = known[ring[0]]
                field_name = "group" if entry.kind == "avatar" else "avatar"
                self.add(
                    f"cycle: {' → '.join(ring + [ring[0]])}",
                    entry.at(field_name),
                    ring[0],
                    "break the cycle: one of them must derive from an avatar outside it "
                    "(or from an existing HeyGen look via `avatar_id`)",
                )
            for key in path:
                state[key] = 2

    # -- files and specs ---------------------------------------------------------------------------------

    def specs(self, entries: list[_Entry]) -> list[ItemSpec]:
        out: list[ItemSpec] = []
        for entry in entries:
            model = entry.model
            location = entry.location()
            if entry.kind == "look":
                out.append(
                    ItemSpec(
                        entry.key,
                        "look",
                        "prompt",
                        model.name,
                        location,
                        parent=model.avatar,
                        avatar_id=model.avatar_id,
                        prompt=model.prompt,
                    )
                )
                continue
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
                        self.file(entry, value, PHOTO_EXTS, "reference image", raw_refs, i, f"reference_images[{i}]")
                        for i, value in enumerate(model.reference_images)
                    )
            else:
                exts, what = (VIDEO_EXTS, "training footage") if kind == "digital_twin" else (PHOTO_EXTS, "photo")
                file = self.file(entry, model.file, exts, what, entry.raw, "file", "file")
                if isinstance(model, DigitalTwinAvatar) and model.consent is not None:
                    consent = model.consent.reroute_url
                    if consent is not None:
                        why = url_problem(consent)
                        if why:
                            raw_c = entry.raw.get("consent")
                            loc = (
                                self.at(*raw_c.value_pos("reroute_url"), entry.file)
                                if isinstance(raw_c, YMap)
                                else entry.at("consent")
                            )
                            self.add(
                                f"`consent.reroute_url` {why}",
                                loc,
                                entry.key,
                                "use a full address: https://<host>/<path>",
                            )
            out.append(
                ItemSpec(
                    entry.key,
                    "avatar",
                    kind,
                    model.name,
                    location,
                    parent=model.group,
                    avatar_group_id=model.avatar_group_id,
                    file=file,
                    prompt=prompt,
                    reference_images=refs,
                    consent_reroute_url=consent,
                )
            )
        return out

    def file(
        self, entry: _Entry, value: Any, exts: tuple[str, ...], what: str, container: Any, slot: Any, label: str
    ) -> FileRef:
        """FileRef for a `file`/reference image value, checking URL syntax or the local file."""

        def where() -> Location:  # only computed for a problem: finding positions is a scan
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

        if isinstance(value, str):
            ref, why = file_ref(value, entry.base)
            if why:
                self.add(
                    f"`{label}` {value!r} {why}",
                    where(),
                    entry.key,
                    "use an http(s) URL, or a local path relative to the "
                    + ("roster" if entry.base != self.base else "manifest"),
                )
                return ref
        elif isinstance(value, UrlFile):
            ref = FileRef("url", value.url)
            why = url_problem(value.url)
            if why:
                self.add(
                    f"`{label}.url` {value.url!r} {why}",
                    where(),
                    entry.key,
                    "use a full address: https://<host>/<path>",
                )
            return ref
        elif isinstance(value, PathFile):
            ref = FileRef("path", resolve_path(value.path, entry.base), written=value.path)
        else:
            return FileRef("asset_id", value.asset_id)
        if ref.kind == "path":
            issue = self.files.check(ref.value, exts, what)
            if issue is not None:
                self.add(issue.message, where(), entry.key, issue.fix)
        return ref


def _without_extensions(root: YMap) -> YMap:
    """The manifest without its top-level `x-...` keys (free space for YAML anchors)."""
    if not any(isinstance(k, str) and k.startswith("x-") for k in root):
        return root
    kept = _yaml.ymap(root.line, root.col)
    for i, (k, v) in enumerate(root.items()):
        if not (isinstance(k, str) and k.startswith("x-")):
            kept[k] = v
            kept.pos.extend(root.pos[4 * i : 4 * i + 4])
    return kept
