"""load_manifest: bytes → YAML (line-tracking) → pydantic models → the stages, each its own module
(roster rows, look templates, cross-item checks, ItemSpecs) reporting into one Problems collector.
Every problem found is collected; one ManifestError names them all, and nothing else escapes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ManifestError, Problem
from ..spec import ItemSpec
from . import _yaml, build, checks, templates
from ._explain import describe
from ._wording import translate
from ._yaml import YList, YMap
from .entry import Entry, salvage
from .files import FileChecker, read_source
from .model import (
    SUPPORTED_VERSIONS,
    Look,
    LookTemplate,
    avatar_adapter,
    look_adapter,
    manifest_adapter,
    template_adapter,
)
from .problems import Located, Problems
from .roster import roster_entries

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


_Validated = tuple[list[tuple[int, Any]], list[tuple[int, Look]], list[tuple[int, LookTemplate]], str | None]


class _Loader:
    def __init__(self, path: Any) -> None:
        shown = os.fspath(path)
        if isinstance(shown, bytes):
            shown = os.fsdecode(shown)
        self.shown: str = shown
        self.abspath = os.path.abspath(shown) if shown else ""
        self.base = os.path.dirname(self.abspath)
        self.problems = Problems(shown)
        self.files = FileChecker()
        self.originals: dict[tuple[int, int], str] = {}

    def run(self) -> Manifest:
        problems = self.problems
        root = self.read()
        if not self.check_version(root):
            problems.fail()
        root = _without_extensions(root)
        avatars, looks, look_templates, avatars_from = self.validate(root)
        entries = _entries(root, "avatars", avatars, self.shown, self.base)
        if avatars_from is not None:
            entries += roster_entries(root, avatars_from, problems, self.base)
        look_entries = _entries(root, "looks", looks, self.shown, self.base)
        made = (
            templates.expand(root["look_templates"], look_templates, entries, look_entries, problems, MAX_ITEMS)
            if look_templates
            else []
        )
        if "look_templates" in root and "looks" in root and root.key_pos("look_templates") < root.key_pos("looks"):
            look_entries = made + look_entries
        else:
            look_entries = look_entries + made
        every = entries + look_entries
        known = checks.unique(every, problems)
        checks.groups(entries, known, problems)
        checks.twin_groups(entries, known, problems)
        checks.parents(look_entries, known, problems)
        checks.cycles(every, known, problems)
        items = build.build(every, problems, self.files)
        if not every and not problems.found:
            problems.notes.append(f"{self.shown}: the manifest has no avatars or looks")
        problems.fail()
        return Manifest(Path(self.abspath), tuple(items), problems.notes)

    def read(self) -> YMap:
        """The document's root mapping; stops (raises) when there is none to validate."""
        problems = self.problems
        if not self.shown:
            problems.add("no manifest path given", None, None, "pass the path of a manifest YAML file")
            problems.fail()
        try:
            root, yaml_problems, self.originals = _yaml.load(read_source(self.abspath, f"manifest {self.shown}"))
        except Located as exc:
            problems.located(exc)
            problems.fail()
            raise AssertionError from None  # unreachable: fail() raised
        for yp in yaml_problems:
            problems.located(yp)
        if any(yp.stop for yp in yaml_problems):
            problems.fail()
        if not isinstance(root, YMap):
            line, col = getattr(root, "line", 0), getattr(root, "col", 0)
            kind = "a list" if isinstance(root, list) else ("empty" if root is None else "a single value")
            problems.add(
                f"the manifest must be a YAML mapping (with `version: 1`, `avatars:` and so on); this one is {kind}",
                problems.at(line, col),
                None,
                "start from `batchavatars init`, or write `version: 1` on the first line",
            )
            problems.fail()
        return root  # type: ignore[no-any-return]  # a YMap: fail() raised otherwise

    def check_version(self, root: YMap) -> bool:
        """False when the document is of a version this code cannot read (stop there)."""
        problems = self.problems
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        if "version" not in root:
            problems.add(
                "missing `version`",
                problems.at(root.line, root.col),
                None,
                f"add `version: 1` as the first line (supported versions: {supported})",
            )
            return True
        value = root["version"]
        where = problems.at(*root.value_pos("version"))
        if type(value) is int:
            if value in SUPPORTED_VERSIONS:
                return True
            problems.add(
                f"unsupported manifest version {value}",
                where,
                None,
                f"this batchavatars reads manifest version {supported}: write `version: 1` "
                "(or upgrade batchavatars if the manifest was written for a newer one)",
            )
            return False
        written = {str(v) for v in SUPPORTED_VERSIONS} | {f"{v}.0" for v in SUPPORTED_VERSIONS}
        if isinstance(value, (str, float)) and str(value).strip() in written:
            message = f"`version` must be the whole number 1, not {describe(value)}"
        else:
            message = f"`version` must be a whole number (supported versions: {supported}), not {describe(value)}"
        problems.add(message, where, None, "write `version: 1`")
        return True

    def validate(self, root: YMap) -> _Validated:
        """The valid avatars, looks and templates (with their indexes) and the roster's path."""
        problems = self.problems
        try:
            model = manifest_adapter.validate_python(root)
        except ValidationError as exc:
            found = translate(
                exc.errors(include_url=False),
                root,
                self.shown,
                skip_loc=lambda loc: loc[:1] == ("version",),
                originals=self.originals,
                limit=problems.room(),
            )
            problems.extend(*found)
        else:
            return (
                list(enumerate(model.avatars)),
                list(enumerate(model.looks)),
                list(enumerate(model.look_templates)),
                model.avatars_from,
            )
        avatars = salvage(root.get("avatars"), avatar_adapter, problems, avatar=True)
        looks = salvage(root.get("looks"), look_adapter, problems)
        look_templates = salvage(root.get("look_templates"), template_adapter, problems)
        avatars_from = root.get("avatars_from")
        if not isinstance(avatars_from, str) or not avatars_from:
            avatars_from = None
        return avatars, looks, look_templates, avatars_from


def _entries(root: YMap, section: str, models: list[tuple[int, Any]], shown: str, base: str) -> list[Entry]:
    """Entries of the valid items of `avatars:` or `looks:`."""
    if not models:
        return []
    raw_list: YList = root[section]  # there are valid items, so there is their list
    kind = "avatar" if section == "avatars" else "look"
    out = []
    for index, model in models:
        raw = raw_list[index]
        out.append(Entry(model.key, kind, model, raw, shown, base, raw.line, raw.col))
    return out


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
