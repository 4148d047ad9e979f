"""What a person sees at 80 columns, rendered with rich's own console: the live display's counts."""

from __future__ import annotations

import re

from rich.console import Console

from batchavatars.events import Snapshot
from batchavatars.presentation.progress import SEPARATOR, ProgressView, counts_lines
from batchavatars.records import STATUSES

ITEM = re.compile(r"(?:" + "|".join(STATUSES) + r") [\d,]+")

# -- the counts line ------------------------------------------------------------------------------


def test_counts_fit_one_line_when_they_can_and_split_between_under_way_and_ended_when_not():
    assert counts_lines({"pending": 3, "training": 2, "succeeded": 10}, 80) == ["pending 3 · training 2 · succeeded 10"]
    seen = {"pending": 3, "creating": 2, "unanswered": 1, "training": 5, "awaiting_consent": 2}
    seen |= {"succeeded": 150, "failed": 3, "blocked": 12}  # 103 columns on one line
    assert counts_lines(seen, 80) == [
        "pending 3 · creating 2 · unanswered 1 · training 5 · awaiting_consent 2",
        "succeeded 150 · failed 3 · blocked 12",
    ]
    assert counts_lines({}, 80) == []


def test_counts_of_six_digits_in_every_status_fit_80_columns_each_whole():
    lines = counts_lines(dict.fromkeys(STATUSES, 999_999), 80)
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines), lines
    items = [item for line in lines for item in line.split(SEPARATOR)]
    assert items == [f"{status} 999,999" for status in STATUSES]  # every status once, in order, none broken


def test_the_display_at_80_columns_with_huge_counts_is_no_wider():
    statuses = dict.fromkeys(STATUSES, 123_456)
    view = ProgressView(lambda: Snapshot(statuses, 9_999_999, 12_345), clock=iter(range(0, 10**6, 50)).__next__)
    console = Console(width=80, record=True)
    console.print(view.render())
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert "370,368/987,648 done" in lines[0]  # succeeded, failed, blocked
    assert len(lines) == 4 and all(ITEM.fullmatch(item) for line in lines[1:3] for item in line.split(SEPARATOR))
