"""batchavatars: a YAML manifest of HeyGen avatars and looks, made real through the v3 API.

The public API (every CLI command is a thin layer over one of its functions):

    import batchavatars
    manifest = batchavatars.load_manifest("team.yaml")   # ManifestError names every problem
    batchavatars.plan(manifest).counts()                  # {"create": 12, "skip": 3}, no API call
    batchavatars.check(manifest).enough                   # the key works and the credits cover it
    result = batchavatars.run(manifest, sandbox=True)     # or: await batchavatars.arun(manifest, ...)
    result.exit_code, result.counts, result.records
    batchavatars.status("team.yaml").records, batchavatars.export(sys.stdout, "team.yaml", format="csv")
    batchavatars.report("team.yaml").path, batchavatars.prune("team.yaml", yes=True).deleted
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module: imported on first use, so `batchavatars --help` does not load httpx and pydantic.
# No submodule bears a public name, so none can shadow it.
_PUBLIC = {
    "aprune": ".api",
    "arun": ".api",
    "check": ".api",
    "export": ".api",
    "plan": ".api",
    "prune": ".api",
    "report": ".api",
    "run": ".api",
    "status": ".api",
    "BatchAvatarsError": ".errors",
    "LedgerError": ".errors",
    "ManifestError": ".errors",
    "UsageError": ".errors",
    "ExitCode": ".exitcodes",
    "Manifest": ".manifest",
    "load_manifest": ".manifest",
    "Record": ".records",
    "RunResult": ".records",
    "Status": ".records",
    "RunSettings": ".settings",
}
__all__ = [
    "BatchAvatarsError",
    "ExitCode",
    "LedgerError",
    "Manifest",
    "ManifestError",
    "Record",
    "RunResult",
    "RunSettings",
    "Status",
    "UsageError",
    "aprune",
    "arun",
    "check",
    "export",
    "load_manifest",
    "plan",
    "prune",
    "report",
    "run",
    "status",
]

if TYPE_CHECKING:
    from .api import aprune, arun, check, export, plan, prune, report, run, status
    from .errors import BatchAvatarsError, LedgerError, ManifestError, UsageError
    from .exitcodes import ExitCode
    from .manifest import Manifest, load_manifest
    from .records import Record, RunResult, Status
    from .settings import RunSettings


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'batchavatars' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
