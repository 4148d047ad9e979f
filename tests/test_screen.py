"""What a person sees at 80 columns, rendered with rich's own console: the live display's counts,
its stopping line and pinned consent links, and the final table (grouped failures, each fix once,
keys never broken); off a terminal (10,000 columns) nothing is wrapped."""

from __future__ import annotations

import io
import re

from rich.console import Console

from batchavatars.commands.run_cmd import Shown, _Hooks
from batchavatars.events import Snapshot
from batchavatars.presentation.logs import configure, log_reporter
from batchavatars.presentation.progress import SEPARATOR, ProgressView, counts_lines, stopping_line
from batchavatars.presentation.summary import FIXES, render_records
from batchavatars.records import STATUSES, Record

LONG = "presenter-with-a-long-key-01"
TRAINING_FIX = FIXES["training_failed"]
ITEM = re.compile(r"(?:" + "|".join(STATUSES) + r") [\d,]+")


def record(key: str, status: str, *, kind: str = "avatar", parent: str | None = None, **fields: str) -> Record:
    return Record(
        key=key, kind=kind, type="photo", name=key.title(), parent=parent, status=status, spec_hash="h", **fields
    )


def trained_badly(key: str) -> Record:
    return record(
        key,
        "failed",
        error_code="training_failed",
        error_message="training failed: the source media could not be used",
        error_source="heygen",
    )


def troubled() -> list[Record]:
    records = [trained_badly(key) for key in ("ava", "ben", "cat", LONG)]
    records += [
        record(f"ava-look-{i}", "blocked", kind="look", parent="ava", error_code="parent_failed", error_message="x")
        for i in range(12)
    ]
    records.append(
        record("dan", "failed", error_code="invalid_parameter", error_message="name is too long", error_source="heygen")
    )
    records.append(record("eve", "unanswered", error_code="timeout", error_message="no answer in 30 s"))
    twin = record("twin", "awaiting_consent", consent_url="https://sandbox.heygen.local/consent/abcdefghijklmnopqrstuv")
    records += [twin, *(record(f"ok-{i}", "succeeded") for i in range(150))]
    return records


def rendered(records: list[Record], width: int) -> list[str]:
    console = Console(width=width, record=True)
    render_records(console, records, title="Run of team.yaml")
    return console.export_text().splitlines()


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


# -- the final table ------------------------------------------------------------------------------


def test_at_80_columns_failures_sharing_a_fix_are_one_row_and_the_fix_is_shown_once():
    lines = rendered(troubled(), 80)
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), text
    assert text.count("HeyGen could not train from this input") == 1, text
    assert len([line for line in lines if re.match(r"│ .* │ failed +│ \w+: ", line)]) == 2  # the four; dan
    # each key whole, on one line; the row names them all
    for key in ("ava", "ben", "cat", LONG, "dan", "eve"):
        assert any(re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", line) for line in lines), key
    assert "│ ava, ben, cat," in text
    assert "…and 12 looks blocked by" in text and "`ava`" in text and "ava-look-3" not in text
    assert re.search(r"│ 1\s+│", text) and " 1. HeyGen could not train" in text
    assert " 3. will retry the same request" in text
    assert "  twin (Twin): https://sandbox.heygen.local/consent/abcdefghijklmnopqrstuv" in text


def test_a_key_too_long_to_sit_beside_its_error_gets_the_error_under_it_and_stays_whole():
    long_key = "a-very-long-avatar-key-that-would-not-fit-in-eighty-columns-anyway-x"[:64]
    records = [trained_badly(long_key), *(trained_badly(f"item-{i:03d}") for i in range(30))]
    records += [
        record(f"look-{i}", "blocked", kind="look", parent=long_key, error_code="parent_failed") for i in range(13)
    ]
    lines = rendered(records, 80)
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), text
    assert any(long_key + "," in line for line in lines) and f"`{long_key}`" in text
    assert all(f"item-{i:03d}" in text for i in range(30))
    assert "failed: training_failed: training failed" in text  # under the keys
    assert text.count("HeyGen could not train from this input") == 1


def test_off_a_terminal_each_group_is_one_line_and_each_fix_too():
    lines = rendered(troubled(), 10_000)
    row = next(line for line in lines if line.startswith("│ ava, ben, cat,"))
    assert re.match(
        rf"│ ava, ben, cat, {LONG} │ failed +│ training_failed: training failed: the source media could not be used +│ 1 ",
        row,
    )
    assert any(line.startswith("│ …and 12 looks blocked by `ava`") for line in lines)
    fix = next(line for line in lines if line.startswith(" 1. "))
    assert fix.endswith("you run with --retry-failed") and TRAINING_FIX in fix
    assert not [line for line in lines if line != line.rstrip()]  # nothing padded out to 10,000 columns


def test_blocked_items_listed_on_their_own_share_one_fix():
    records = [record("ava", "awaiting_consent")]
    for key in ("l1", "l2"):
        records.append(
            record(key, "blocked", kind="look", parent="gone", error_code="parent_failed", error_message="x")
        )
    text = "\n".join(rendered(records, 80))
    assert "│ l1, l2 │ blocked │" in text and text.count("fix the parent item") == 1
