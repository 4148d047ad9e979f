"""Build ItemSpecs directly, for tests of the stages after the manifest."""

from __future__ import annotations

from batchavatars.spec import FileRef, ItemSpec, Location

HERE = Location("test.yaml", 1, 1)


def avatar(
    key: str,
    type: str = "photo",
    *,
    group: str | None = None,
    name: str | None = None,
    url: str | None = None,
    path: str | None = None,
    prompt: str | None = None,
) -> ItemSpec:
    file = None
    if type != "prompt":
        file = FileRef("path", path) if path else FileRef("url", url or f"https://cdn.example.com/{key}.jpg")
    return ItemSpec(
        key=key,
        kind="avatar",
        type=type,
        name=name or key.title(),
        location=HERE,
        parent=group,
        file=file,
        prompt=prompt or (f"A portrait of {key}" if type == "prompt" else None),
    )


def look(key: str, parent: str | None = None, *, avatar_id: str | None = None, name: str | None = None) -> ItemSpec:
    return ItemSpec(
        key=key,
        kind="look",
        type="prompt",
        name=name or key,
        location=HERE,
        parent=parent,
        avatar_id=avatar_id,
        prompt=f"{key} outfit",
    )
