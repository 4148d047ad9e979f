"""What a person sees at 80 columns, rendered with rich's own console: the live display's counts,
its stopping line and pinned consent links."""

from __future__ import annotations

import io
import re

from rich.console import Console

from batchavatars.commands.run_cmd import Shown, _Hooks
from batchavatars.events import Snapshot
from batchavatars.presentation.logs import configure, log_reporter
from batchavatars.presentation.progress import SEPARATOR, ProgressView, counts_lines, stopping_line
from batchavatars.records import STATUSES

LONG = "presenter-with-a-long-key-01"

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


def test_the_display_at_80_columns_with_huge_counts_a_stop_and_links_is_no_wider():
    statuses = dict.fromkeys(STATUSES, 123_456)
    links = [
        ("twin-a", "https://sandbox.heygen.local/consent/" + "x" * 22),
        (LONG, "https://example.com/c/" + "y" * 70),
    ]
    view = ProgressView(lambda: Snapshot(statuses, 9_999_999, 12_345), clock=iter(range(0, 10**6, 50)).__next__)
    view._links = links
    view.stopping({"reason": "interrupted", "message": "received SIGINT", "in_flight": 3})
    console = Console(width=80, record=True)
    console.print(view.render())
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0] == "stopping (SIGINT): finishing 3 requests in flight; the ledger stays consistent"
    assert "370,368/987,648 done" in lines[1]  # succeeded, failed, blocked
    assert all(ITEM.fullmatch(item) for line in lines[2:4] for item in line.split(SEPARATOR)), lines[2:4]
    assert any(line.startswith(f"  {LONG}:") for line in lines)


def test_the_stopping_line_names_the_requests_in_flight_and_copes_without_the_number():
    sigint = {"reason": "interrupted", "message": "received SIGINT"}
    assert stopping_line(sigint) == "stopping (SIGINT): finishing the requests in flight; the ledger stays consistent"
    assert stopping_line({**sigint, "in_flight": 1}).startswith("stopping (SIGINT): finishing 1 request in flight;")
    assert "no requests in flight" in stopping_line({**sigint, "in_flight": 0})
    credit = stopping_line({"reason": "credit", "message": "402 ...", "in_flight": 2})
    assert credit.startswith("stopping (out of credits): finishing 2 requests in flight, still watching what trains")
    assert "cancelling 4 requests" in stopping_line({"reason": "auth", "message": "401", "in_flight": 4})


# -- the CLI's hooks: links dropped once approved, the stop shown ---------------------------------


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
    hooks.on_event("run_stopping", reason="interrupted", message="received SIGTERM", in_flight=2)
    console = Console(width=80, record=True)
    console.print(view.render())
    text = console.export_text()
    assert "stopping (SIGTERM): finishing 2 requests in flight" in text
    assert "  twin-b: " in text and "twin-a" not in text
    assert logged == ["consent_requested"] * 3 + ["consent_approved", "run_stopping"]  # every event still logged


def test_run_stopping_is_logged_above_the_live_display_without_v():
    options = shown()
    assert options.live and options.verbosity == -1  # above a live display: warnings and worse only

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Stream()
    log_reporter(configure(fmt="console", verbosity=options.verbosity, secrets=[], stream=out))(
        "run_stopping", reason="interrupted", message="received SIGINT", in_flight=3
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "run_stopping" in text and "in_flight=3" in text and "received SIGINT" in text
