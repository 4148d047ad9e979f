"""Manifest texts for the manifest tests, built from the parts a case is about, in the line layout a
text written out by hand would have: so the line and column a case expects follow from its entries."""

from __future__ import annotations

PHOTO = "https://cdn.example.com/a.jpg"
TWIN = "https://cdn.example.com/t.mp4"

Field = str | list[str] | None


def manifest(*avatars: str | list[str], **sections: list[str | list[str]]) -> str:
    """`version: 1` on line 1, then `avatars:` with the entries given first (if any), then each section
    given by name, in the order given. An entry that is a str is a flow mapping on one line (`photo()`,
    or `{key: l, ...}` written out); one that is a list of `field: value` lines is a block mapping, a
    field a line (`photo_block()`, `block(...)`)."""
    if avatars:
        sections = {"avatars": list(avatars), **sections}
    lines = ["version: 1"]
    for section, entries in sections.items():
        lines.append(f"{section}:")
        for entry in entries:
            first, *rest = [entry] if isinstance(entry, str) else entry
            lines += [f"  - {first}", *(f"    {line}" for line in rest)]
    return "\n".join(lines) + "\n"


def block(**fields: Field) -> list[str]:
    """A block mapping's lines: a field a line in the order given, None leaving it out; a list value
    is a block sequence under its field, an item a line."""
    lines: list[str] = []
    for field, value in fields.items():
        if isinstance(value, list):
            lines += [f"{field}:", *(f"  - {item}" for item in value)]
        elif value is not None:
            lines.append(f"{field}: {value}")
    return lines


def flow(**fields: str | None) -> str:
    """A flow mapping on one line, the fields in the order given, None leaving one out."""
    return "{" + ", ".join(f"{field}: {value}" for field, value in fields.items() if value is not None) + "}"


# The usual entries. Each takes changes: a change of a field the entry has replaces its value where it
# stands (None leaves the field out), any other change is a field after them.


def photo_block(**changes: Field) -> list[str]:
    """Photo avatar `a` as a block: `key: a`, `type: photo`, `name: A`, `file: <PHOTO>`."""
    return block(**{"key": "a", "type": "photo", "name": "A", "file": PHOTO, **changes})


def prompt_block(**changes: Field) -> list[str]:
    """Prompt avatar `a` as a block: `key: a`, `type: prompt`, `name: A`, `prompt: p`."""
    return block(**{"key": "a", "type": "prompt", "name": "A", "prompt": "p", **changes})


def template(**changes: Field) -> list[str]:
    """A look template as a block: `for_each: all`, `key: "{avatar}-x"`, `name: "{name}"`, `prompt: p`."""
    return block(**{"for_each": "all", "key": '"{avatar}-x"', "name": '"{name}"', "prompt": "p", **changes})


def photo(key: str = "a", name: str = "A", **changes: str | None) -> str:
    """A photo avatar as a flow mapping: `{key: a, type: photo, name: A, file: "<PHOTO>"}`."""
    return flow(**{"key": key, "type": "photo", "name": name, "file": f'"{PHOTO}"', **changes})


def twin(key: str, name: str, **changes: str | None) -> str:
    """A digital twin as a flow mapping: `{key: ..., type: digital_twin, name: ..., file: "<TWIN>"}`."""
    return flow(**{"key": key, "type": "digital_twin", "name": name, "file": f'"{TWIN}"', **changes})
