"""Export for the video step: what a video of each look may use is among the first columns of every
format; a list is a JSON list, and one `;`-joined cell in CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.ledger import Ledger
from batchavatars.presentation.export import EXPORT_FIELDS, write
from batchavatars.records import Record

VIDEO = ("look_id", "supported_api_engines", "default_voice_id", "preferred_orientation")


def to_string(recs, fmt: str) -> str:
    buf = io.StringIO()
    write(recs, fmt, buf)
    return buf.getvalue()


def records() -> list[Record]:
    done = Record(
        key="ava",
        kind="avatar",
        type="photo",
        name='Ava "A" Reyes, & co',
        parent=None,
        status="succeeded",
        spec_hash="h1",
        look_id="look_1",
        group_id="group_1",
        supported_api_engines=["avatar_iv", "avatar_v"],
        default_voice_id="voice_9",
        preferred_orientation="portrait",
    )
    waiting = Record(
        key="ava-office", kind="look", type="prompt", name="Ava, office", parent="ava", status="pending", spec_hash="h2"
    )
    return [done, waiting]


def test_the_video_columns_come_first_in_every_format():
    assert set(VIDEO) <= set(EXPORT_FIELDS[:12])
    header = to_string(records(), "csv").splitlines()[0].split(",")
    assert set(VIDEO) <= set(header[:12])
    assert list(json.loads(to_string(records(), "json"))[0])[:12] == list(EXPORT_FIELDS[:12])
    first = json.loads(to_string(records(), "jsonl").splitlines()[0])
    assert list(first)[:12] == list(EXPORT_FIELDS[:12])


def test_engines_are_a_list_in_json_and_joined_with_semicolons_in_csv():
    rows = json.loads(to_string(records(), "json"))
    assert rows[0]["supported_api_engines"] == ["avatar_iv", "avatar_v"]
    assert rows[0]["default_voice_id"] == "voice_9" and rows[0]["preferred_orientation"] == "portrait"
    assert rows[1]["supported_api_engines"] is None
    line = json.loads(to_string(records(), "jsonl").splitlines()[0])
    assert line["supported_api_engines"] == ["avatar_iv", "avatar_v"]
    table = list(csv.DictReader(io.StringIO(to_string(records(), "csv"))))
    assert table[0]["supported_api_engines"] == "avatar_iv;avatar_v"
    assert table[0]["name"] == 'Ava "A" Reyes, & co'  # quoted, read back whole
    assert table[1]["supported_api_engines"] == "" and table[1]["default_voice_id"] == ""


def test_the_export_command_writes_them_from_the_ledger(tmp_path: Path):
    book = Ledger(tmp_path / "t.ledger.db")
    book.put_many(records())
    book.close()
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["export", "--ledger", str(tmp_path / "t.ledger.db"), "--format", "csv", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["key"] for r in table] == ["ava", "ava-office"]
    assert table[0]["supported_api_engines"] == "avatar_iv;avatar_v" and table[0]["preferred_orientation"] == "portrait"
