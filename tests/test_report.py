"""The HTML report as a reader meets it: what needs them comes first, every character is a card with
its looks beneath, every manifest string is escaped, and the `report` command behaves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.ledger import Ledger
from batchavatars.presentation.report import default_previews_dir, default_report_path, render_report, write_report
from batchavatars.presentation.summary import fix_for
from batchavatars.records import Record
from batchavatars.sandbox import SandboxConfig, serve

NASTY = "<script>alert('x')</script> \"Quoted\" & Sons"


def rec(key: str, status: str = "succeeded", **fields: object) -> Record:
    base: dict[str, object] = dict(
        kind="look" if fields.get("parent") else "avatar",
        type="photo",
        name=f"Name of {key}",
        parent=None,
        spec_hash="h",
        look_id=f"look_{key}" if status in ("succeeded", "training", "awaiting_consent", "failed") else None,
        preview_image_url=f"https://cdn.example.com/{key}.png" if status == "succeeded" else None,
    )
    base.update(fields)
    return Record(key=key, status=status, **base)  # type: ignore[arg-type]


class Page(HTMLParser):
    """What a browser would build: elements with their attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    @property
    def body(self) -> str:
        return "".join(self.text)


def render(records: list[Record], **kw: object) -> str:
    return render_report(records, manifest="team.yaml", generated_at="2026-01-02T03:04:05+00:00", **kw)  # type: ignore[arg-type]


def test_manifest_strings_are_escaped_everywhere():
    evil_id = 'look_1"><img src=x onerror=alert(1)>'
    records = [
        rec("a&b", name=NASTY, look_id=evil_id, group_id="g1"),
        rec("f", "failed", name=NASTY, error_code="invalid_parameter", error_message=NASTY, error_param="<name>"),
        rec("c", "awaiting_consent", name=NASTY, consent_url='https://consent.example/x?a=1&b="2"'),
    ]
    html = render(records, run={"elapsed_seconds": 1.0})
    page = Page(html)
    assert len(page.all("script")) == 1  # ours only
    assert "<script>alert" not in html and "<img src=x" not in html
    assert not [a for _, a in page.tags if "onerror" in a]
    assert NASTY in page.body and "<name>" in page.body  # shown as text, whole
    assert f"<button class=cp>{escape(evil_id)}</button>" in html and evil_id in page.body  # click copies the text
    assert not page.all("img", src="x")
    assert page.all("a", href='https://consent.example/x?a=1&b="2"')
    assert "<title>Report: team.yaml</title>" in html


def test_links_and_pictures_only_from_http_or_data_image():
    records = [
        rec("c", "awaiting_consent", consent_url="javascript:alert(1)"),
        rec("p", preview_image_url="javascript:alert(2)"),
        rec("d", preview_image_url="data:image/svg+xml;base64,PHN2Zy8+"),
        rec("f", "failed", error_code="x", error_doc_url="javascript:alert(3)"),
    ]
    page = Page(render(records))
    assert not [a for a in page.all("a") if "javascript" in (a.get("href") or "")]
    srcs = [a.get("src") or "" for a in page.all("img")]
    assert srcs == ["data:image/svg+xml;base64,PHN2Zy8+"]
    assert "javascript:alert(1)" in page.body  # the odd consent URL is still shown, as text


def test_needs_you_comes_first_with_links_fixes_and_retries():
    records = [
        rec("ok"),
        rec("twin", "awaiting_consent", type="digital_twin", consent_url="https://app.heygen.com/consent/abc"),
        rec(
            "bad",
            "failed",
            error_code="invalid_parameter",
            error_message="file must be at least 512x512",
            error_param="file",
            error_doc_url="https://docs.heygen.com/errors#invalid_parameter",
        ),
        rec("child", "blocked", parent="bad", error_code="parent_failed", error_message="parent bad failed"),
        rec("lost", "unanswered", error_code="timeout", error_message="no answer in 30 s"),
    ]
    html = render(records)
    needs, chars = html.split('id="chars"', 1)
    page = Page(needs)
    assert page.all("a", href="https://app.heygen.com/consent/abc")
    assert page.all("button", **{"data-copy": "https://app.heygen.com/consent/abc"})
    for text in (
        "invalid_parameter",
        "file must be at least 512x512",
        fix_for("invalid_parameter"),
        "parent bad failed",
    ):
        assert text in page.body
    assert page.all("a", href="https://docs.heygen.com/errors#invalid_parameter")
    assert "<td>file</td>" in needs  # the param HeyGen objected to
    assert fix_for("parent_failed") in page.body
    assert "will retry the same request" in page.body and "lost" in page.body
    assert "ok" not in re.findall(r"<code>([^<]*)</code>", needs)  # a success needs nobody
    assert "Nothing needs you" in render([rec("ok")])


def cards(html: str) -> list[str]:
    return re.findall(r'<section class="card".*?</section>', html, re.S)


def keys_in(card: str) -> list[str]:
    return re.findall(r"<code class=k>([^<]*)</code>", card)


def test_one_card_per_character_with_its_looks_nested_beneath():
    records = [
        rec("maya", group_id="g1"),
        rec("maya-studio", parent="maya", kind="avatar", group_id="g1"),
        rec("maya-office", parent="maya", group_id="g1"),
        rec("maya-office-night", "pending", parent="maya-office"),  # no group yet: joins its root's card
        rec("tom", "training", group_id="g2"),
        rec("new", "pending"),
        rec("new-look", "pending", parent="new"),
        rec("other", group_id="g1", parent=None),  # the same HeyGen group though not a manifest child
    ]
    html = render(records)
    found = [keys_in(c) for c in cards(html)]
    assert found == [
        ["maya", "maya-studio", "maya-office", "maya-office-night", "other"],
        ["tom"],
        ["new", "new-look"],
    ]
    maya = cards(html)[0]
    nested = re.search(r"maya-office</code>.*?<ul class=\"looks\">.*?maya-office-night", maya, re.S)
    assert nested, "a look of a look sits in a list beneath its parent"
    page = Page(maya)
    assert len(page.all("img")) == 4 and all(a.get("loading") == "lazy" and a.get("alt") for a in page.all("img"))
    placeholder = Page(cards(html)[2])
    assert not placeholder.all("img") and "not sent yet" in placeholder.body


def test_a_deep_chain_and_a_parent_cycle_still_render():
    chain = [rec("c0")] + [rec(f"c{i}", parent=f"c{i - 1}") for i in range(1, 2000)]
    html = render(chain)
    assert keys_in(html) == [f"c{i}" for i in range(2000)]
    cycle = [rec("x", parent="y"), rec("y", parent="x")]
    assert sorted(keys_in(render(cycle))) == ["x", "y"]


def test_header_shows_the_run_figures_and_nothing_else_of_the_mapping():
    run = {"elapsed_seconds": 12.34, "requests": 57, "rate_limited": 3, "credits": 9.0, "uploads": 1, "api_key": "sk-x"}
    page = Page(render([rec("a"), rec("b", "failed", error_code="x")], run=run))
    for text in ("12.3 s", "57", "answered 429", "≈ 9", "succeeded", "failed", "team.yaml", "2026-01-02T03:04:05"):
        assert text in page.body
    assert "sk-x" not in page.body
    alone = Page(render([rec("a", attempts=2, updated_at="2026-01-01T00:00:00Z")]))
    assert "no run figures" in alone.body and "2026-01-01T00:00:00Z" in alone.body


def test_ten_thousand_items_stay_a_few_megabytes_and_capped_tables():
    records: list[Record] = []
    for i in range(2000):
        records.append(rec(f"p{i}", group_id=f"group_{i:06d}"))
        records += [rec(f"p{i}-l{j}", parent=f"p{i}", group_id=f"group_{i:06d}") for j in range(3)]
        records.append(rec(f"p{i}-bad", "failed", parent=f"p{i}", error_code="training_failed", error_message="no"))
    html = render(records)
    assert len(html.encode()) < 6_000_000
    assert len(cards(html)) == 2000 and len(keys_in(html)) == 10_000
    assert "and 1800 more" in html  # the failure table stops at 200 rows; the filter lists them all


def test_default_paths_sit_beside_the_ledger_and_the_write_is_whole(tmp_path):
    assert default_report_path(tmp_path / "team.ledger.db") == tmp_path / "team.report.html"
    assert default_report_path(tmp_path / "state.db") == tmp_path / "state.report.html"
    assert default_previews_dir(tmp_path / "team.ledger.db") == tmp_path / "team.previews"
    path = write_report(tmp_path / "team.ledger.db", [rec("a")], "team.yaml", None)
    assert path == tmp_path / "team.report.html" and "<code class=k>a</code>" in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team.report.html"]  # no temporary left behind


def ledger_with(tmp_path: Path, records: list[Record], name: str = "team.ledger.db") -> Path:
    book = Ledger(tmp_path / name)
    book.put_many(records)
    book.close()
    return tmp_path / name


def test_the_report_command_prints_the_path_and_fails_plainly(tmp_path):
    (tmp_path / "team.yaml").write_text("version: 1\n")
    ledger_with(tmp_path, [rec("a", name=NASTY)])
    result = CliRunner().invoke(main, ["report", str(tmp_path / "team.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "team.report.html")
    assert NASTY not in (tmp_path / "team.report.html").read_text()
    out = tmp_path / "sub" / "r.html"
    assert (
        CliRunner().invoke(main, ["report", "--ledger", str(tmp_path / "team.ledger.db"), "-o", str(out)]).exit_code
        == 0
    )
    assert out.is_file()

    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no ledger here yet" in missing.output and "Traceback" not in missing.output
    (tmp_path / "file").write_text("x")
    blocked = CliRunner().invoke(main, ["report", str(tmp_path / "team.yaml"), "-o", str(tmp_path / "file" / "r.html")])
    assert blocked.exit_code == 2 and "-o/--output" in blocked.output and "is not a folder" in blocked.output
    assert "Example:" in CliRunner().invoke(main, ["report", "--help"]).output


GOOD = """\
version: 1
avatars:
  - {key: ava, type: photo, name: Ava Reyes, file: https://cdn.example.com/ava.jpg}
"""


def test_a_run_writes_its_report_unless_told_not_to(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(GOOD)
    env = {**os.environ, "HEYGEN_API_KEY": "k"}
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        cmd = [sys.executable, "-m", "batchavatars", "run", str(manifest), "--base-url", sb.url]
        first = subprocess.run([*cmd, "--no-report"], capture_output=True, text=True, env=env, timeout=120)
        assert first.returncode == 0, first.stderr
        assert not (tmp_path / "m.report.html").exists()
        chosen = tmp_path / "out" / "run.html"
        second = subprocess.run([*cmd, "--report", str(chosen)], capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 0, second.stderr
        (tmp_path / "file").write_text("x")
        third = [*cmd, "--report", str(tmp_path / "file" / "r.html")]
        unwritable = subprocess.run(third, capture_output=True, text=True, env=env, timeout=120)
        # a report path that cannot be written is found before the run, not after it
        assert unwritable.returncode == 2 and "--report" in unwritable.stderr and "is not a folder" in unwritable.stderr
        assert "Traceback" not in unwritable.stderr
    assert "<code class=k>ava</code>" in chosen.read_text()
