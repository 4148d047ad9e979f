"""`python -m benchmarks.validate`: seconds `batchavatars validate` takes on the scale-100k manifest
(50,000 photo avatars + 50,000 looks), run as a user runs it, in a fresh process each time.

    python -m benchmarks.validate                 # 100,000 items, best of 3
    python -m benchmarks.validate --items 10000 --runs 5

The budget is 5 s for 100,000 items; one machine, one figure: compare before/after on the same one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import write_manifest


def measure(items: int, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        write_manifest("scale-100k", items, str(path))
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "batchavatars", "validate", str(path)], capture_output=True)
            seconds.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(done.stderr.decode(errors="replace")[-2000:])
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds = measure(args.items, args.runs)
    shown = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"validate {args.items:,} items: best {min(seconds):.2f} s (runs: {shown})")


if __name__ == "__main__":
    main()
