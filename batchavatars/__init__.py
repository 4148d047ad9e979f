"""batchavatars: a YAML manifest of HeyGen avatars and looks, made real through the v3 API.

The public API (the CLI is a thin layer over it):

    import batchavatars
    manifest = batchavatars.load_manifest("team.yaml")   # ManifestError names every problem
    batchavatars.plan(manifest).counts()                  # {"create": 12, "skip": 3}, no API call
    result = batchavatars.run(manifest, sandbox=True)     # or: await batchavatars.arun(manifest, ...)
    result.exit_code, result.counts, result.records
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module: imported on first use, so `batchavatars --help` does not load httpx and pydantic.
_PUBLIC = {
    "RunSettings": ".api",
    "arun": ".api",
    "run": ".api",
    "BatchAvatarsError": ".errors",
    "LedgerError": ".errors",
    "ManifestError": ".errors",
    "UsageError": ".errors",
    "ExitCode": ".exitcodes",
    "Manifest": ".manifest",
    "load_manifest": ".manifest",
    "Record": ".records",
    "Status": ".records",
    "RunResult": ".scheduler",
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
    "arun",
    "load_manifest",
    "plan",
    "run",
]

if TYPE_CHECKING:
    from .api import RunSettings, arun, run
    from .errors import BatchAvatarsError, LedgerError, ManifestError, UsageError
    from .exitcodes import ExitCode
    from .manifest import Manifest, load_manifest
    from .records import Record, Status
    from .scheduler import RunResult


# The submodule `plan` (the pure DAG) is loaded here first, so that the function below, not the
# module, is what `batchavatars.plan` names: a submodule loaded later would rebind the attribute.
from . import planner as _plan_module  # noqa: E402


def plan(*args: Any, **kwargs: Any) -> _plan_module.Plan:
    """What `run` would do against the ledger, without any API call (see api.plan)."""
    from .api import plan as plan_

    return plan_(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'batchavatars' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
