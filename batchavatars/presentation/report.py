"""The HTML report of a run: what needs a person first (consent links, failures with their fix,
items that will be retried), then every character as a card with its looks beneath. One
self-contained file: inline CSS and a small inline script, nothing fetched but the preview images.

Every string from the manifest or from HeyGen is escaped; the page's Content-Security-Policy only
lets its own script run, so a name that slipped past escaping still could not."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from ..records import STATUSES, Record
from .report_assets import CSP, CSS, JS
from .summary import counts_of, fix_for

MAX_DEPTH = 5  # looks of looks nest this deep; deeper ones are listed at the last level, "of <parent>"
PER_PAGE = 40  # cards; the rest start hidden, so a browser lays out and loads one page at first
MAX_ROWS = 200  # rows per failure table: beyond, the status filter below lists them all

WHY = {
    "pending": "not sent yet",
    "creating": "sent; the next run asks again with the same Idempotency-Key",
    "unanswered": "no answer from HeyGen: will retry the same request",
    "training": "training on HeyGen",
    "awaiting_consent": "waiting for the person's consent",
    "succeeded": "",
    "failed": "failed",
    "blocked": "blocked: its parent failed",
}
SHOWN = frozenset({"succeeded", "awaiting_consent", "training"})  # a preview is worth showing


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None, *, image: bool = False) -> str | None:
    """http(s) only (and data:image for pictures): a `javascript:` link from anywhere is dropped."""
    if not url:
        return None
    low = url.strip().lower()
    if low.startswith(("https://", "http://")) or (image and low.startswith("data:image/")):
        return url.strip()
    return None


def default_report_path(ledger_path: str | Path) -> Path:
    """`<stem>.report.html` beside the ledger (`team.ledger.db` → `team.report.html`)."""
    return _beside(Path(ledger_path), ".report.html")


def default_previews_dir(ledger_path: str | Path) -> Path:
    """The preview cache, `<stem>.previews/` beside the ledger."""
    return _beside(Path(ledger_path), ".previews")


def _beside(ledger: Path, suffix: str) -> Path:
    name = ledger.name
    stem = name[: -len(".ledger.db")] if name.endswith(".ledger.db") else (ledger.stem or name)
    return ledger.with_name(stem + suffix)


def write_report(
    ledger_path: str | Path,
    records: Iterable[Record],
    manifest: str | Path,
    run_summary: Mapping[str, Any] | None,
    *,
    report_path: str | Path | None = None,
    previews: Mapping[str, str] | None = None,
) -> Path:
    """Render and write the report (atomically: a reader never sees half a file); returns its path."""
    path = Path(report_path) if report_path else default_report_path(ledger_path)
    page = render_report(
        records,
        manifest=str(manifest),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run=run_summary,
        previews=previews,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def render_report(
    records: Iterable[Record],
    *,
    manifest: str,
    generated_at: str,
    run: Mapping[str, Any] | None = None,
    previews: Mapping[str, str] | None = None,
) -> str:
    recs = list(records)
    counts = counts_of(recs)
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>Report: {_e(manifest)}</title><style>{CSS}</style>",
        "<noscript><style>.cards .card[hidden]{display:block!important}</style></noscript></head><body>",
        _header(recs, counts, manifest, generated_at, run),
        '<main><section aria-labelledby="needs"><h2 id="needs">Needs you</h2>',
        _needs_you(recs),
        "</section>",
        _characters(recs, counts, previews or {}),
        "</main>",
        "<footer>Written by batchavatars. Nothing on this page is fetched but the preview images.</footer>",
        f'<div id="live" aria-live="polite"></div><script>{JS}</script></body></html>\n',
    ]
    return "".join(parts)


# -- header ------------------------------------------------------------------------------------


def _header(recs: list[Record], counts: dict[str, int], manifest: str, when: str, run: Mapping[str, Any] | None) -> str:
    badges = "".join(
        f'<li><span class="b b-{s}">{_e(s)}</span> <b>{counts[s]}</b></li>' for s in STATUSES if counts.get(s)
    )
    out = [
        f'<header class="top"><h1>Report: {_e(manifest)}</h1>',
        f'<p class="sub">Generated {_e(when)} · {len(recs)} items</p>',
        f'<ul class="counts" aria-label="Items by status">{badges}</ul>',
    ]
    figures = _run_figures(run) if run is not None else _ledger_figures(recs)
    out.append(f'<ul class="figs" aria-label="Run figures">{figures}</ul></header>')
    return "".join(out)


def _run_figures(run: Mapping[str, Any]) -> str:
    """Only the named figures: nothing else in the mapping reaches the page."""
    shown = [
        ("wall time", run.get("elapsed_seconds"), "{:.1f} s"),
        ("requests", run.get("requests"), "{}"),
        ("answered 429", run.get("rate_limited"), "{}"),
        ("creations", run.get("creations"), "{}"),
        ("credits", run.get("credits"), "≈ {:g}"),
        ("uploads", run.get("uploads"), "{}"),
        ("consent requests", run.get("consent_requests"), "{}"),
        ("exit code", run.get("exit_code"), "{}"),
    ]
    items = [f"<li>{_e(label)} <b>{_e(fmt.format(value))}</b></li>" for label, value, fmt in shown if _num(value)]
    return "".join(items)


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ledger_figures(recs: list[Record]) -> str:
    last = max((r.updated_at for r in recs if r.updated_at), default="")
    attempts = sum(r.attempts for r in recs)
    return f"<li>From the ledger alone: no run figures</li><li>attempts <b>{attempts}</b></li>" + (
        f"<li>last change <b>{_e(last)}</b></li>" if last else ""
    )


# -- needs you ---------------------------------------------------------------------------------


def _needs_you(recs: list[Record]) -> str:
    consent = [r for r in recs if r.status == "awaiting_consent"]
    broken = [r for r in recs if r.status in ("failed", "blocked")]
    retry = [r for r in recs if r.status in ("unanswered", "creating")]
    if not (consent or broken or retry):
        return '<div class="need ok"><p>Nothing needs you: no consent waiting, nothing failed.</p></div>'
    return _consent(consent) + _failures(broken) + _retries(retry)


def _copy(value: str) -> str:
    """An id that copies itself when clicked (the script copies a .cp button's own text)."""
    return f"<button class=cp>{_e(value)}</button>"


def _consent(recs: list[Record]) -> str:
    if not recs:
        return ""
    rows = []
    for r in recs[:MAX_ROWS]:
        url = safe_url(r.consent_url)
        if url:
            link = (
                f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(url)}</a> '
                f'<button type="button" data-copy="{_e(url)}" aria-label="Copy the consent link of {_e(r.key)}">'
                "Copy link</button>"
            )
        else:
            link = _e(r.consent_url or "not requested yet: run again")
        rows.append(f"<tr><td><code>{_e(r.key)}</code></td><td>{_e(r.name)}</td><td>{link}</td></tr>")
    return (
        f'<div class="need consent"><h3>Consent waiting · {len(recs)}</h3>'
        "<p>Send each link to the person depicted; they record their consent on camera.</p>"
        '<table><thead><tr><th scope="col">key</th><th scope="col">name</th><th scope="col">consent link</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>{_more(len(recs), 'awaiting_consent')}</div>"
    )


def _more(total: int, status: str) -> str:
    if total <= MAX_ROWS:
        return ""
    return f"<p>… and {total - MAX_ROWS} more: choose “{_e(status)}” in the status filter below.</p>"


def _failures(recs: list[Record]) -> str:
    by_code: dict[str, list[Record]] = {}
    for r in recs:
        by_code.setdefault(r.error_code or "unknown", []).append(r)
    out = []
    for code, group in by_code.items():
        fix = fix_for(code) or "read HeyGen's message and its documentation link, fix the item, then run again"
        rows = "".join(_failure_row(r) for r in group[:MAX_ROWS])
        out.append(
            f'<div class="need"><h3><code>{_e(code)}</code> · {_plural(len(group), "item")}</h3>'
            f'<p class="fix"><b>Fix:</b> {_e(fix)}</p>'
            '<table><thead><tr><th scope="col">key</th><th scope="col">name</th><th scope="col">status</th>'
            '<th scope="col">message</th><th scope="col">param</th><th scope="col">docs</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>{_more(len(group), group[0].status)}</div>"
        )
    return "".join(out)


def _failure_row(r: Record) -> str:
    doc = safe_url(r.error_doc_url)
    doc_html = f'<a href="{_e(doc)}" target="_blank" rel="noopener noreferrer">{_e(doc)}</a>' if doc else ""
    return (
        f'<tr><td><code>{_e(r.key)}</code></td><td>{_e(r.name)}</td><td><span class="b b-{_e(r.status)}">'
        f"{_e(r.status)}</span></td><td>{_e(r.error_message)}</td><td>{_e(r.error_param)}</td><td>{doc_html}</td></tr>"
    )


def _retries(recs: list[Record]) -> str:
    if not recs:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(r.key)}</code></td><td>{_e(r.name)}</td><td>{_e(r.error_code)} {_e(r.error_message)}</td></tr>"
        for r in recs[:MAX_ROWS]
    )
    return (
        f'<div class="need retry"><h3>No answer yet · {len(recs)}</h3>'
        "<p>The next run will retry the same request (same Idempotency-Key): no duplicate is created.</p>"
        '<table><thead><tr><th scope="col">key</th><th scope="col">name</th><th scope="col">last error</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>{_more(len(recs), 'unanswered')}</div>"
    )


# -- characters --------------------------------------------------------------------------------


@dataclass
class Card:
    """One character: the records of one avatar group (or of one root item, before it has a group)."""

    members: list[Record] = field(default_factory=list)


def group_cards(recs: list[Record]) -> list[Card]:
    """Cards by group_id; an item without a group yet joins its root manifest parent's card."""
    by_key = {r.key: r for r in recs}
    cards: dict[str, Card] = {}
    for r in recs:
        root = _root(r, by_key)
        group = r.group_id or root.group_id
        card_id = f"g:{group}" if group else f"k:{root.key}"
        cards.setdefault(card_id, Card()).members.append(r)
    return list(cards.values())


def _root(rec: Record, by_key: dict[str, Record]) -> Record:
    seen = {rec.key}
    while rec.parent and rec.parent in by_key and rec.parent not in seen:
        rec = by_key[rec.parent]
        seen.add(rec.key)
    return rec


def _characters(recs: list[Record], counts: dict[str, int], previews: Mapping[str, str]) -> str:
    options = "".join(f'<option value="{s}">{_e(s)} ({counts[s]})</option>' for s in STATUSES if counts.get(s))
    cards = group_cards(recs)
    body = "".join(_card(i, card, previews) for i, card in enumerate(cards))
    return (
        '<section aria-labelledby="chars"><h2 id="chars">Characters</h2>'
        '<div class="controls" role="search"><span><label for="fs">Status</label>'
        f'<select id="fs"><option value="">all ({len(recs)})</option>{options}</select></span>'
        '<span><label for="q">Search</label><input id="q" type="search" placeholder="key or name" '
        'autocomplete="off"></span>'
        f'<span id="shown">{len(recs)} items in {len(cards)} characters</span><span>Click an id to copy it.</span></div>'
        f'<div class="cards" data-per="{PER_PAGE}">{body}</div>'
        '<nav class="pager" aria-label="Pages"><button type="button" id="prev">Previous</button>'
        '<span id="pg"></span><button type="button" id="next">Next</button></nav></section>'
    )


def _card(index: int, card: Card, previews: Mapping[str, str]) -> str:
    keys = {r.key for r in card.members}
    children: dict[str, list[Record]] = {}
    tops: list[Record] = []
    for r in card.members:
        if r.parent and r.parent in keys and r.parent != r.key:
            children.setdefault(r.parent, []).append(r)
        else:
            tops.append(r)
    if not tops:  # a cycle among parents (a corrupt ledger): show them all flat
        tops, children = list(card.members), {}
    lead = next((r for r in tops if r.kind == "avatar"), tops[0])
    rest = [r for r in tops if r is not lead]
    states = counts_of(card.members)
    tally = ", ".join(f"{n} {s}" for s, n in states.items() if n)
    group = f"group {_copy(lead.group_id)} · " if lead.group_id else ""
    beneath = children.get(lead.key, []) + rest
    return (
        f'<section class="card" aria-labelledby="c{index}"{" hidden" if index >= PER_PAGE else ""}><h3 id="c{index}">{_e(lead.name)}</h3>'
        f'<p class="meta">{group}{_plural(len(card.members), "item")}: {_e(tally)}</p>'
        f'<div class="lead">{_figure(lead, previews, None)}</div>'
        f"{_tree(beneath, children, previews, 1)}</section>"
    )


def _tree(nodes: list[Record], children: dict[str, list[Record]], previews: Mapping[str, str], depth: int) -> str:
    if not nodes:
        return ""
    out = ['<ul class="looks">']
    for r in nodes:
        kids = children.get(r.key, [])
        out.append(f"<li>{_figure(r, previews, None)}")
        if depth < MAX_DEPTH:
            out.append(_tree(kids, children, previews, depth + 1))
            out.append("</li>")
        else:
            out.append("</li>")
            out.extend(f"<li>{_figure(d, previews, d.parent)}</li>" for d in _descendants(kids, children))
    out.append("</ul>")
    return "".join(out)


def _descendants(nodes: list[Record], children: dict[str, list[Record]]) -> list[Record]:
    """Depth-first, without recursion: a chain of looks may be thousands deep."""
    out: list[Record] = []
    stack = list(reversed(nodes))
    seen: set[str] = set()
    while stack:
        r = stack.pop()
        if r.key in seen:
            continue
        seen.add(r.key)
        out.append(r)
        stack.extend(reversed(children.get(r.key, [])))
    return out


def _figure(r: Record, previews: Mapping[str, str], of: str | None) -> str:
    src = safe_url(previews.get(r.look_id or "") or r.preview_image_url, image=True)
    hue = zlib.crc32(r.key.encode()) % 360
    ini = _e(_initials(r.name or r.key))
    if src and r.status in SHOWN:
        thumb = (
            f'<div class=th style="--h:{hue}"><i aria-hidden=true>{ini}</i>'
            f'<img src="{_e(src)}" alt="{_e(r.name)}" loading=lazy></div>'
        )
    else:
        label = f"No preview: {WHY.get(r.status) or r.status}"
        thumb = f'<div class="th ph" role=img aria-label="{_e(label)}"><i>{ini}</i></div>'
    look = _copy(r.look_id) if r.look_id else ""
    why = _reason(r)
    # Compact markup (unquoted constants, the badge styled by the figure's data-s): 10,000 of these.
    return (
        f'<figure class=it data-s="{_e(r.status)}">{thumb}<figcaption>'
        f"<span class=n>{_e(r.name)}</span><code class=k>{_e(r.key)}</code><b class=b>{_e(r.status)}</b>{look}"
        + (f"<span class=why>look of <code>{_e(of)}</code></span>" if of else "")
        + (f"<span class=why>{why}</span>" if why else "")
        + "</figcaption></figure>"
    )


def _reason(r: Record) -> str:
    if r.status == "failed":
        return f"<code>{_e(r.error_code)}</code>: {_e(r.error_message)}"
    if r.status == "blocked":
        return _e(r.error_message or WHY["blocked"])
    if r.status == "succeeded":
        return ""
    return _e(WHY.get(r.status, ""))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _initials(name: str) -> str:
    words = [w for w in name.replace("(", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"
