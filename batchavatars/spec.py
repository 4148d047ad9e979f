"""What one manifest item asks for, after parsing and expansion: the contract between
the manifest (which produces ItemSpecs) and the plan (which orders them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["avatar", "look"]
AvatarType = Literal["digital_twin", "photo", "prompt"]
FileKind = Literal["url", "path", "asset_id"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where an item (or a field of it) was written: manifest, CSV row or template."""

    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class FileRef:
    kind: FileKind
    # url: the URL; path: an absolute path (resolved against the manifest's folder); asset_id: the id
    value: str
    # a path as written in the manifest or roster: for display
    written: str = field(default="", compare=False)
    # a local file's content digest (hex), filled by the manifest's file checks: what the spec hash
    # takes, so that replacing a photo at the same path changes the item and moving the project's
    # folder does not
    sha256: str | None = field(default=None, compare=False)

    @property
    def identity(self) -> str:
        return self.written or self.value

    @property
    def hashed(self) -> list[str]:
        """What the spec hash takes of this file: its content for a checked local file."""
        if self.kind == "path" and self.sha256 is not None:
            return ["path", self.sha256]
        return [self.kind, self.identity]


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """What one manifest item asks for, after expansion: immutable, hashable by its spec_hash."""

    key: str
    kind: Kind
    type: AvatarType  # looks are always sent as "prompt"
    name: str
    location: Location = field(compare=False)
    parent: str | None = None  # manifest key: `group:` of an avatar, `avatar:` of a look
    avatar_group_id: str | None = None  # an existing HeyGen character (avatars)
    avatar_id: str | None = None  # an existing HeyGen look outside the manifest (looks)
    file: FileRef | None = None
    prompt: str | None = None
    reference_images: tuple[FileRef, ...] = ()
    consent_reroute_url: str | None = None

    @property
    def spec_hash(self) -> str:
        """Stable digest of what would be sent; a change means the item 'changed'."""
        raw = json.dumps(self._hashed(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    @property
    def spec_fields(self) -> dict[str, str]:
        """A short digest of each field a request is made of, so a later spec can say which of them
        changed (`prompt`, `file content`, ...) without the ledger keeping the texts themselves.
        A file's digest is prefixed with its kind: `path:` digests name the file's content."""
        fields: dict[str, str] = {}
        for name, value in self._hashed().items():
            digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
            kind = self.file.kind if name == "file" and self.file is not None else None
            fields[name] = f"{kind}:{digest}" if kind else digest
        return fields

    def _hashed(self) -> dict[str, object]:
        return {
            "key": self.key,
            "kind": self.kind,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "avatar_group_id": self.avatar_group_id,
            "avatar_id": self.avatar_id,
            "file": self.file.hashed if self.file else None,
            "prompt": self.prompt,
            "reference_images": [r.hashed for r in self.reference_images],
        }
