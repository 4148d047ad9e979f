"""The manifest's JSON Schema (draft 2020-12), generated from the pydantic models that validate it."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from .model import ManifestModel

# Where editors fetch the schema from (`# yaml-language-server: $schema=...`). The same document
# ships as manifests/batchavatars.schema.json and is printed by `batchavatars schema`.
SCHEMA_URL = "https://raw.githubusercontent.com/batchavatars/batchavatars/main/manifests/batchavatars.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of a version-1 manifest (a fresh copy: callers may mutate it)."""
    return copy.deepcopy(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    body = ManifestModel.model_json_schema(mode="validation")
    _drop_null_defaults(body)
    return {"$schema": DIALECT, "$id": SCHEMA_URL, **body}


def _drop_null_defaults(node: Any) -> None:
    """Optional fields default to None in the models; in the schema they are simply optional
    (an explicit `null` is not accepted)."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)


def schema_text() -> str:
    """The schema as shipped in manifests/batchavatars.schema.json (and printed by the CLI)."""
    import json

    return json.dumps(manifest_json_schema(), indent=2) + "\n"


if __name__ == "__main__":  # regenerate the shipped copy: python -m batchavatars.manifest.schema > ...
    import sys

    sys.stdout.write(schema_text())
