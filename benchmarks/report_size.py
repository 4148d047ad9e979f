"""The HTML report at scale: seconds to render and write it, and its size, for records made in memory.

    python -m benchmarks.report_size                  # 10,000 items
    python -m benchmarks.report_size --items 100000

The mix: photo avatars with three prompt looks and one look of a look each; 2% failed (their
children blocked), 1% awaiting consent, the rest succeeded with a preview URL of HeyGen's usual
length. Target: 10,000 items in under 5 s and a few MB (the images are not in the file).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from batchavatars.presentation.report import write_report
from batchavatars.records import Record


def _record(key: str, parent: str | None, group: int, status: str) -> Record:
    digest = hashlib.sha1(key.encode()).hexdigest()
    done = status in ("succeeded", "awaiting_consent", "failed")
    return Record(
        key=key,
        kind="look" if parent else "avatar",
        type="prompt" if parent else "photo",
        name=f"Presenter {group}, {key.rsplit('-', 1)[-1]} look" if parent else f"Presenter {group}",
        parent=parent,
        status=status,
        spec_hash=digest[:16],
        look_id=f"look_{digest[:16]}" if done else None,
        group_id=f"group_{group:08x}" if done or parent else None,
        error_code="training_failed" if status == "failed" else "parent_failed" if status == "blocked" else None,
        error_message="training failed: the source media could not be used" if status == "failed" else None,
        consent_url=f"https://app.heygen.com/consent/{digest[:22]}" if status == "awaiting_consent" else None,
        preview_image_url=f"https://files2.heygen.ai/avatar/v3/{digest}/preview_target.webp" if done else None,
        supported_api_engines=["avatar_iv"] if status == "succeeded" else None,
    )


def make_records(n: int) -> list[Record]:
    records: list[Record] = []
    group = 0
    while len(records) < n:
        root = f"p{group}"
        failed = group % 50 == 7  # 2% of the characters: the root fails, its looks are blocked
        consent = group % 100 == 3
        records.append(
            _record(root, None, group, "failed" if failed else "awaiting_consent" if consent else "succeeded")
        )
        for j, parent in enumerate((root, root, root, f"{root}-l0")):
            status = "blocked" if failed else "pending" if consent else "succeeded"
            records.append(_record(f"{root}-l{j}", parent, group, status))
        group += 1
    return records[:n]


def measure(n: int) -> dict[str, Any]:
    records = make_records(n)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "bench.ledger.db"  # only names the report's path: nothing is read
        start = time.perf_counter()
        path = write_report(ledger, records, "bench.yaml", {"elapsed_seconds": 1.0, "requests": n})
        seconds = time.perf_counter() - start
        size = path.stat().st_size
    return {"items": n, "seconds": round(seconds, 3), "bytes": size, "megabytes": round(size / 1e6, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_size", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args(argv)
    row = measure(args.items)
    print(f"report of {row['items']:,} items: {row['seconds']:.2f} s, {row['megabytes']:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
