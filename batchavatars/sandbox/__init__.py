"""A HeyGen v3 simulator ("the sandbox"): a real HTTP server on loopback for the demo, the
tests and the benchmarks. It follows docs/heygen-v3-api-notes.md and adds what a runner must
survive: rate limits, concurrency caps, slow consent, training failures and network faults.
"""

from ._world import world_path
from .app import SandboxApp
from .config import V3_ROUTES, SandboxConfig
from .server import SandboxHandle, run_forever, serve, serve_in_process

__all__ = [
    "SandboxApp",
    "SandboxConfig",
    "SandboxHandle",
    "V3_ROUTES",
    "run_forever",
    "serve",
    "serve_in_process",
    "world_path",
]
