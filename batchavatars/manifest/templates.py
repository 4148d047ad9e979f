"""Look templates: one look per selected avatar, with {avatar}, {name} and {type} filled in."""

from __future__ import annotations

import re
import string
from typing import Any

from ._explain import plural, suggest
from ._yaml import YList, YMap
from .entry import Entry
from .model import KEY_RULE, NAME_MAX, PLACEHOLDERS, PROMPT_MAX, ForEachFilter, Look, LookTemplate
from .problems import Located, Problems

KEY_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_REPORTS_PER_TEMPLATE = 5
_FORMATTER = string.Formatter()

Parts = list[tuple[str, str | None]]


def parse_template(text: str) -> Parts:
    """`text` as (literal, placeholder-or-None) parts. Raises Located (without a position) for an
    unknown placeholder or a stray brace; `{{` and `}}` are literal braces."""
    parts: Parts = []
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise Located(f"has a stray brace ({exc}); write {{{{ or }}}} for a literal brace") from None
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        if field not in PLACEHOLDERS:
            close = suggest(field, PLACEHOLDERS)
            hint = f" (did you mean {{{close}}}?)" if close else ""
            raise Located(
                f"uses unknown placeholder {{{field}}}{hint}; the placeholders are {{avatar}}, {{name}} and {{type}}"
            )
        if spec or conversion:
            raise Located(
                f"formats a placeholder ({{{field}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}); only plain {{{field}}} is supported"
            )
        parts.append((literal, field))
    return parts


def fill(parts: Parts, values: dict[str, str]) -> str:
    return "".join(literal + (values[field] if field else "") for literal, field in parts)


def key_problem(key: str) -> str | None:
    if KEY_RE.fullmatch(key):
        return None
    return f"keys are {KEY_RULE}"


def expand(
    raw_list: YList,
    templates: list[tuple[int, LookTemplate]],
    avatars: list[Entry],
    looks: list[Entry],
    problems: Problems,
    max_items: int,
) -> list[Entry]:
    """The looks the templates make, in template order, then avatar order."""
    by_key = {e.key: e for e in avatars}
    look_keys = {e.key for e in looks}
    out: list[Entry] = []
    for index, tpl in templates:
        raw: YMap = raw_list[index]
        parts = _parse_parts(raw, tpl, problems)
        selected = select(raw, tpl, by_key, look_keys, problems)
        if parts is None:
            continue
        if len(avatars) + len(looks) + len(out) + len(selected) > max_items:
            problems.add(
                f"look templates would make more than {max_items:,} items",
                problems.at(raw.line, raw.col),
                None,
                "split the manifest, or select fewer avatars in `for_each`",
            )
            break
        out += _make(raw, tpl, parts, selected, problems)
    return out


def _parse_parts(raw: YMap, tpl: LookTemplate, problems: Problems) -> dict[str, Parts] | None:
    parts: dict[str, Parts] = {}
    for name in ("key", "name", "prompt"):
        try:
            parts[name] = parse_template(getattr(tpl, name))
        except Located as exc:
            problems.add(
                f"look template `{name}` {exc.message}",
                problems.at(*raw.value_pos(name)),
                None,
                "use only {avatar}, {name} and {type}",
            )
    return parts if len(parts) == 3 else None


def _make(
    raw: YMap, tpl: LookTemplate, parts: dict[str, Parts], selected: list[Entry], problems: Problems
) -> list[Entry]:
    """One template's looks; its problems reported (at most MAX_REPORTS_PER_TEMPLATE worded)."""
    out: list[Entry] = []
    reports = 0
    for avatar in selected:
        values = {"avatar": avatar.key, "name": avatar.model.name, "type": avatar.model.type}
        key, name, prompt = (fill(parts[f], values) for f in ("key", "name", "prompt"))
        issues = _issues(key, name, prompt, avatar.key, parts)
        if issues:
            for fname, message, fix in issues:
                reports += 1
                if reports <= MAX_REPORTS_PER_TEMPLATE:
                    problems.add(message, problems.at(*raw.value_pos(fname)), key, fix)
            problems.invalid_keys.add(key)
            continue
        model = Look.model_construct(key=key, avatar=avatar.key, avatar_id=None, name=name, prompt=prompt)
        out.append(
            Entry(key, "look", model, raw, problems.manifest, "", raw.line, raw.col, template=tpl, avatar=avatar)
        )
    if reports > MAX_REPORTS_PER_TEMPLATE:
        problems.add(
            f"look template: {reports - MAX_REPORTS_PER_TEMPLATE} more problems like the ones above",
            problems.at(raw.line, raw.col),
            None,
            "fix the template",
        )
    return out


def _issues(key: str, name: str, prompt: str, avatar: str, parts: dict[str, Parts]) -> list[tuple[str, str, str]]:
    """(field, message, fix) for what one filled-in look gets wrong."""
    issues = []
    why = key_problem(key)
    if why:
        uses_name = "name" in {f for _, f in parts["key"]}
        hint = " (use {avatar} in keys: names may hold spaces and capitals)" if uses_name else ""
        issues.append(
            ("key", f"look template key gives {key!r} for avatar `{avatar}`, not a valid key", f"{why}{hint}")
        )
    for field, text, limit in (("name", name, NAME_MAX), ("prompt", prompt, PROMPT_MAX)):
        if len(text) > limit:
            issues.append(
                (
                    field,
                    f"look template {field} gives {len(text)} characters for avatar `{avatar}`; the limit is {limit}",
                    f"shorten the template {field} by {plural(len(text) - limit, 'character')}",
                )
            )
    return issues


def select(
    raw: YMap, tpl: LookTemplate, by_key: dict[str, Entry], look_keys: set[str], problems: Problems
) -> list[Entry]:
    """The avatars a template's `for_each` selects."""
    choice = tpl.for_each
    where = problems.at(*raw.value_pos("for_each"))
    if choice == "all":
        if not by_key:
            problems.notes.append(f"{where}: look template for_each: all, but there are no avatars; it makes no looks")
        return list(by_key.values())
    if isinstance(choice, ForEachFilter):
        wanted = {choice.type} if isinstance(choice.type, str) else set(choice.type)
        chosen = [a for a in by_key.values() if a.model.type in wanted]
        if not chosen:
            shown = choice.type if isinstance(choice.type, str) else "[" + ", ".join(choice.type) + "]"
            problems.notes.append(
                f"{where}: look template for_each {{type: {shown}}} matches no avatar; it makes no looks"
            )
        return chosen
    return _listed(raw["for_each"], choice, by_key, look_keys, problems)


def _listed(
    raw_keys: YList, choice: Any, by_key: dict[str, Entry], look_keys: set[str], problems: Problems
) -> list[Entry]:
    chosen = []
    seen: set[str] = set()
    for i, key in enumerate(choice):
        at = problems.at(*raw_keys.item_pos(i))
        if key in seen:
            problems.add(f"`for_each` lists `{key}` twice", at, None, "list each avatar once")
            continue
        seen.add(key)
        if key in by_key:
            chosen.append(by_key[key])
        elif key in problems.invalid_avatar_keys:
            continue
        elif key in look_keys:
            problems.add(
                f"`for_each` lists `{key}`, which is a look; look templates apply to avatars",
                at,
                None,
                "list avatar keys only (to restyle a look, add it under `looks:` with `avatar: " + key + "`)",
            )
        else:
            close = suggest(key, list(by_key))
            problems.add(
                f"`for_each` lists `{key}`, which is no avatar of this manifest",
                at,
                None,
                f"did you mean `{close}`?"
                if close
                else "list keys of avatars defined under `avatars:` or in the roster",
            )
    return chosen
