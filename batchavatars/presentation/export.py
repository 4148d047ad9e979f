"""Ledger records for the tools downstream: json, jsonl or csv. The ledger holds no secret, and
neither does this."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from ..records import RECORD_FIELDS, Record

# First the columns a video pipeline takes (the look, and what a video of it may use), then the rest.
EXPORT_FIELDS: tuple[str, ...] = (
    "key",
    "kind",
    "type",
    "name",
    "parent",
    "status",
    "look_id",
    "group_id",
    "supported_api_engines",
    "default_voice_id",
    "preferred_orientation",
    "consent_url",
    "preview_image_url",
    "error_code",
    "error_message",
)
EXPORT_FIELDS += tuple(f for f in RECORD_FIELDS if f not in EXPORT_FIELDS)
FORMATS = ("json", "jsonl", "csv")
LIST_SEPARATOR = ";"  # a list in one CSV cell: "avatar_iv;avatar_v"


def _csv_row(row: dict[str, object]) -> dict[str, object]:
    return {k: LIST_SEPARATOR.join(str(x) for x in v) if isinstance(v, list) else v for k, v in row.items()}


HISTORY_FIELDS = ("key", "name", "look_id", "group_id", "origin", "why", "at", "deleted_at")


def write(records: Iterable[Record], fmt: str, out: TextIO) -> int:
    return write_rows([{f: getattr(r, f) for f in EXPORT_FIELDS} for r in records], EXPORT_FIELDS, fmt, out)


def write_history(rows: Iterable[dict[str, object]], fmt: str, out: TextIO) -> int:
    """What existed: looks of replaced and pruned items, when and why, and whether deleted."""
    return write_rows([{f: row.get(f) for f in HISTORY_FIELDS} for row in rows], HISTORY_FIELDS, fmt, out)


def write_rows(rows: list[dict[str, object]], fields: tuple[str, ...], fmt: str, out: TextIO) -> int:
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(_csv_row(row) for row in rows)
    else:
        raise ValueError(fmt)
    return len(rows)
