"""`python -m benchmarks.plan_output`: seconds and peak RSS of `batchavatars plan` on the scale-100k
manifest (50,000 photo avatars + 50,000 looks), run as a user runs it, in a fresh process each time,
with its default output (counts, then one line per item) and with `--json`.

    python -m benchmarks.plan_output                 # 100,000 items, best of 3
    python -m benchmarks.plan_output --items 10000 --runs 5

The budget is 10 s and 400 MB for 100,000 items with the default output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import write_manifest


def measure(path: Path, extra: list[str]) -> tuple[float, float, int]:
    """One run in a fresh process: (seconds, peak RSS MB, bytes written)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "plan", str(path), *extra],
        capture_output=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode(errors="replace")[-2000:])
    rss_kib = int(done.stderr.decode().strip().splitlines()[-1])
    return seconds, rss_kib / 1024, len(done.stdout)


# Runs the CLI and reports its own peak RSS on stderr: RUSAGE_CHILDREN of this parent would only
# ever grow, mixing the runs.
_CHILD = """
import resource, sys
from batchavatars.cli import main
sys.argv = ["batchavatars", *sys.argv[1:]]
try:
    main()
except SystemExit as stop:
    sys.stdout.flush()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
    raise
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        write_manifest("scale-100k", args.items, str(path))
        for label, extra in (("default", []), ("--json", ["--json"])):
            runs = [measure(path, extra) for _ in range(args.runs)]
            best = min(runs)
            shown = ", ".join(f"{s:.2f}" for s, _, _ in runs)
            print(
                f"plan {label:<8} {args.items:,} items: best {best[0]:.2f} s, peak RSS {max(r[1] for r in runs):.0f} MB, "
                f"{best[2] / 1e6:.1f} MB written (runs: {shown})"
            )


if __name__ == "__main__":
    main()
