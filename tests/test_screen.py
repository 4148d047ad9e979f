"""What a person sees at 80 columns, rendered with rich's own console: the live display's counts,
and its pinned consent links."""

from __future__ import annotations

import re

from rich.console import Console

from batchavatars.commands.run_cmd import Shown, _Hooks
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


# -- the CLI's hooks: links dropped once approved --------------------------------------------------


def shown() -> Shown:
    return Shown(
        log_format="console",
        verbose=0,
        quiet=False,
        progress=True,
        json_summary=None,
        credit_price=1.0,
        report_path=None,
        no_report=True,
    )


def test_an_approved_twins_link_is_dropped_and_the_others_sharing_it_stay():
    logged: list[str] = []
    hooks = _Hooks(shown(), lambda event, **fields: logged.append(event), None, sandbox=True)  # type: ignore[arg-type]
    url = "https://sandbox.heygen.local/consent/one-link-for-the-group"
    for key in ("twin-a", "twin-b", "solo"):
        hooks.on_event("consent_requested", key=key, consent_url=url if key != "solo" else url + "-solo")
    view = hooks.display(lambda: Snapshot({"awaiting_consent": 3}, 1, 0))
    hooks.on_event("consent_approved", key="twin-a")
    assert hooks._shown.consent_links == [("twin-b", url), ("solo", url + "-solo")]
    console = Console(width=80, record=True)
    console.print(view.render())
    text = console.export_text()
    assert "  twin-b: " in text and "twin-a" not in text
    assert logged == ["consent_requested"] * 3 + ["consent_approved"]  # every event still logged
