"""The manifest stage: YAML (and CSV rosters) → validated, expanded ItemSpecs. No network I/O.

from batchavatars.manifest import load_manifest
m = load_manifest("manifests/example.yaml")   # raises ManifestError, nothing else
m.items  # tuple[ItemSpec, ...]: avatars, then looks (template-made included), manifest order
"""

from __future__ import annotations

from .load import Manifest, load_manifest
from .schema import SCHEMA_URL, manifest_json_schema
from .starter import starter_manifest

__all__ = ["Manifest", "SCHEMA_URL", "load_manifest", "manifest_json_schema", "starter_manifest"]
