"""--refresh: the ledger set against the account (Terraform's `plan -refresh-only`, for avatars).
What happens "in the dashboard" is sent straight to the sandbox: a deletion or a rename is the
API's own DELETE/PATCH, a training that fails later and a consent revoked are its test controls.
Over real loopback HTTP, asserting what the server saw and what the ledger holds."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import batchavatars
from batchavatars.cli import main
from batchavatars.exitcodes import ExitCode
from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve, world_path

from .test_cli import run_cli

KEY = "test-key"
ENV = {"HEYGEN_API_KEY": KEY}
FAST = dict(rate=0, api_key=KEY, poll_min=0.02, wait_timeout=30)
CONFIG = dict(training_seconds=0.05, rate_limit=None, consent_approval_seconds=0.1)
LISTS = {"GET /v3/avatars/looks", "GET /v3/avatars", "GET /v3/users/me"}

MANIFEST = """\
version: 1
avatars:
  - {key: a1, type: photo, name: Ana, file: "https://cdn.example.com/a1.jpg"}
  - {key: a2, type: prompt, name: Nova, prompt: A starship captain}
  - {key: t1, type: digital_twin, name: Tim, file: "https://cdn.example.com/t1.mp4"}
looks:
  - {key: a1-office, avatar: a1, name: Ana office, prompt: In an office}
  - {key: a1-night, avatar: a1-office, name: Ana night, prompt: At night}
"""


def write(tmp_path: Path) -> str:
    path = tmp_path / "team.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return str(path)


def records(tmp_path: Path) -> dict:
    book = Ledger(tmp_path / "team.ledger.db", create=False, readonly=True)
    try:
        return book.records()
    finally:
        book.close()


def ledger_bytes(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tmp_path.glob("team.ledger.db*")) if p.is_file()}


def dashboard(sb, method: str, path: str, **kw) -> dict:
    """What a person does on the account behind the ledger's back."""
    response = httpx.request(method, sb.url + path, headers={"X-Api-Key": KEY}, timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def plan(manifest: str, url: str, *args: str):
    result = CliRunner().invoke(main, ["plan", manifest, "--base-url", url, *args], env=ENV, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def plan_rows(manifest: str, url: str) -> dict[str, dict]:
    result = plan(manifest, url, "--refresh", "--json")
    assert result.exit_code == 0, result.output
    return {row["key"]: row for row in json.loads(result.output)["items"]}


def made(tmp_path: Path, sb) -> dict:
    manifest = write(tmp_path)
    result = batchavatars.run(manifest, base_url=sb.url, **FAST)
    assert result.exit_code == 0 and result.counts == {"succeeded": 5}
    return records(tmp_path)


def mutations(stats: dict) -> dict:
    """What the account's counters say was done to it (not the reads)."""
    return {name: stats[name] for name in ("created", "renamed", "deleted", "duplicates", "consent_requests")}


def new_requests(before: dict, after: dict) -> dict[str, int]:
    old = before["requests"]
    return {route: n - old.get(route, 0) for route, n in after["requests"].items() if n != old.get(route, 0)}


# -- a look deleted on the account ----------------------------------------------------------------


def test_a_look_deleted_on_the_account_is_planned_again_without_changing_anything(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{old['a1'].look_id}")
        before, stored = sb.stats(), ledger_bytes(tmp_path)

        rows = plan_rows(manifest, sb.url)
        assert rows["a1"]["action"] == "create"
        assert rows["a1"]["reason"] == f"deleted on the account (look {old['a1'].look_id}): made again, under a new key"
        assert rows["a1-office"]["action"] == "replace"
        assert rows["a1-office"]["reason"] == "replace: parent a1 deleted on the account"
        assert rows["a1-night"]["action"] == "replace"
        assert {rows[k]["action"] for k in ("a2", "t1")} == {"skip"}
        exit_code = plan(manifest, sb.url, "--refresh", "--exit-code")
        assert exit_code.exit_code == ExitCode.PLAN_HAS_WORK == 5
        assert "note: refreshed from the account (4 looks, 3 groups read): a1: deleted on the account" in (
            exit_code.output
        )
        after = sb.stats()

    # read in list calls only, every page of them, and nothing written anywhere
    seen = new_requests(before, after)
    assert set(seen) <= LISTS and seen["GET /v3/avatars/looks"] == seen["GET /v3/avatars"] == 2  # a page each, twice
    assert "GET /v3/avatars/looks/{look_id}" not in seen
    assert mutations(after) == mutations(before)
    assert ledger_bytes(tmp_path) == stored
    assert records(tmp_path) == old


def test_run_refresh_makes_a_deleted_look_again_and_what_was_made_from_it_from_the_new_one(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{old['a1'].look_id}")
        plain = batchavatars.run(manifest, base_url=sb.url, **FAST)  # without --refresh: the ledger is trusted
        assert plain.exit_code == 0 and sb.stats()["created"]["looks"] == 5
        notes: list[str] = []
        result = batchavatars.run(
            manifest,
            base_url=sb.url,
            refresh=True,
            on_event=lambda event, **f: notes.append(f["note"]) if event == "note" else None,
            **FAST,
        )
        stats = sb.stats()
        assert plan(manifest, sb.url, "--exit-code").exit_code == 0  # the ledger describes the account again
        assert plan(manifest, sb.url, "--refresh", "--exit-code").exit_code == 0
    assert result.exit_code == 0 and result.counts == {"succeeded": 5}
    assert stats["created"]["looks"] == 5 + 3  # a1 once more, and its two looks from the new one
    assert any(note.startswith("refreshed from the account") and "a1: deleted" in note for note in notes)
    new = records(tmp_path)
    assert new["a1"].look_id != old["a1"].look_id and new["a1"].generation == old["a1"].generation + 1
    assert new["a1-office"].group_id == new["a1"].group_id != old["a1"].group_id
    assert new["a1-night"].group_id == new["a1"].group_id
    assert {k: new[k].look_id for k in ("a2", "t1")} == {k: old[k].look_id for k in ("a2", "t1")}
    book = Ledger(tmp_path / "team.ledger.db", create=False, readonly=True)
    history = book.history()
    book.close()
    assert [(row["key"], row["look_id"], row["why"]) for row in history] == [
        ("a1", old["a1"].look_id, "deleted on the account"),
        ("a1-office", old["a1-office"].look_id, "replace: parent a1 deleted on the account"),
        ("a1-night", old["a1-night"].look_id, "replace: parent a1-office replaced"),
    ]


@pytest.mark.slow
def test_the_nightly_drift_check_from_the_command_line(tmp_path):
    """plan --refresh --exit-code alerts (5), run --refresh mends it, and the next check is quiet (0)."""
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        url = ["--base-url", sb.url]
        assert run_cli(["run", manifest, *url, "--rate", "0", "--no-report"], ENV).returncode == 0
        a1 = records(tmp_path)["a1"]
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{a1.look_id}")
        checked = run_cli(["plan", manifest, *url, "--refresh", "--exit-code"], ENV)
        assert checked.returncode == 5, checked.stderr
        assert f"create  a1 (avatar): deleted on the account (look {a1.look_id}): made again" in checked.stdout
        assert "replace a1-office (look of a1): replace: parent a1 deleted on the account" in checked.stdout
        assert run_cli(["plan", manifest, *url, "--exit-code"], ENV).returncode == 0  # offline: the ledger alone
        mended = run_cli(["run", manifest, *url, "--refresh", "--rate", "0", "--no-report"], ENV)
        assert mended.returncode == 0, mended.stderr[-2000:]
        assert json.loads(mended.stdout.splitlines()[-1])["creations"] == 3
        again = run_cli(["plan", manifest, *url, "--refresh", "--exit-code"], ENV)
    assert again.returncode == 0, again.stdout
    assert "nothing to do" not in again.stdout and "5 skip" in again.stdout


# -- renamed, failed later, consent revoked --------------------------------------------------------


def test_a_look_renamed_on_the_account_is_renamed_back(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "PATCH", f"/v3/avatars/looks/{old['a1'].look_id}", json={"name": "Ana (dashboard)"})
        row = plan_rows(manifest, sb.url)["a1"]
        assert (row["action"], row["reason"]) == (
            "rename",
            "renamed on the account to 'Ana (dashboard)': renamed to the manifest's 'Ana' in place (no credit, same id)",
        )
        result = batchavatars.run(manifest, base_url=sb.url, refresh=True, **FAST)
        stats = sb.stats()
        names = {look["id"]: look["name"] for look in _all_looks(sb)}
    assert result.exit_code == 0
    assert stats["renamed"] == 2  # in the dashboard, then back by the run
    assert stats["created"]["looks"] == 5  # no credit spent
    assert names[old["a1"].look_id] == "Ana"
    assert records(tmp_path)["a1"].name == "Ana" and records(tmp_path)["a1"].look_id == old["a1"].look_id


def test_a_look_whose_training_failed_later_is_sent_again(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "POST", f"/_sandbox/looks/{old['a2'].look_id}/fail")
        row = plan_rows(manifest, sb.url)["a2"]
        assert (row["action"], row["reason"]) == (
            "retry",
            "training failed later on the account (training_failed): sent again, under a new key",
        )
        assert records(tmp_path)["a2"].status == "succeeded"  # plan changed nothing
        result = batchavatars.run(manifest, base_url=sb.url, refresh=True, **FAST)
        stats = sb.stats()
    assert result.exit_code == 0 and result.counts == {"succeeded": 5}
    assert stats["created"]["looks"] == 6  # a2 once more
    new = records(tmp_path)["a2"]
    assert new.status == "succeeded" and new.look_id != old["a2"].look_id
    assert new.generation == old["a2"].generation + 1  # a new key: a replay of the old one would give the failed look


def revoke_and_refresh(tmp_path: Path, **config) -> tuple[dict, object, dict, list[str]]:
    """A twin made, its consent revoked on the account, then run --refresh: (old records, result,
    sandbox stats, consent links the run reported)."""
    manifest = write(tmp_path)
    with serve(SandboxConfig(**{**CONFIG, **config})) as sb:
        old = made(tmp_path, sb)
        assert sb.stats()["consent_requests"]["total"] == 1
        dashboard(sb, "POST", f"/_sandbox/groups/{old['t1'].group_id}/revoke_consent")
        row = plan_rows(manifest, sb.url)["t1"]
        assert (row["action"], row["reason"]) == (
            "poll",
            "consent revoked on the account (its group waits for consent again): awaiting consent again; "
            "the run asks for it",
        )
        links: list[str] = []
        result = batchavatars.run(
            manifest,
            base_url=sb.url,
            refresh=True,
            on_event=lambda event, **f: links.append(f["consent_url"]) if event == "consent_requested" else None,
            **{**FAST, "wait_timeout": 1.5},
        )
        return old, result, sb.stats(), links


def test_a_twin_whose_consent_was_revoked_waits_for_consent_again_and_the_run_asks_for_it(tmp_path):
    # Revoked after HeyGen's replay window (here 0.2 s for 24 h): the consent request is a new one.
    old, result, stats, links = revoke_and_refresh(tmp_path, replay_window_seconds=0.2)
    assert result.exit_code == 0 and result.counts == {"succeeded": 5}
    assert stats["consent_requests"]["total"] == 2 and stats["created"]["looks"] == 5
    new = records(tmp_path)["t1"]
    assert links and new.consent_url == links[-1] != old["t1"].consent_url
    assert (new.status, new.look_id) == ("succeeded", old["t1"].look_id)


def test_a_twin_whose_consent_was_revoked_within_the_replay_window_is_asked_again(tmp_path):
    # Within HeyGen's 24 h the first request's key would replay the old link: the key moved on.
    old, result, stats, links = revoke_and_refresh(tmp_path)
    assert stats["consent_requests"]["total"] == 2 and stats["duplicates"] == 0
    assert result.exit_code == 0 and result.counts == {"succeeded": 5}
    new = records(tmp_path)["t1"]
    assert links and new.consent_url == links[-1] != old["t1"].consent_url
    assert new.generation == old["t1"].generation + 1 and new.look_id == old["t1"].look_id


def test_a_run_refresh_with_nothing_drifted_reads_lists_and_sends_nothing(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        before = sb.stats()
        result = batchavatars.run(manifest, base_url=sb.url, refresh=True, **FAST)
        after = sb.stats()
    assert result.exit_code == 0
    assert set(new_requests(before, after)) <= LISTS
    assert mutations(after) == mutations(before)
    assert records(tmp_path).keys() == old.keys()


# -- plan stays offline without --refresh; where the account cannot be read ------------------------


def test_plan_without_refresh_sends_nothing_and_the_python_api_takes_refresh(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{old['a2'].look_id}")
        before = sb.stats()["requests_total"]
        assert plan(manifest, sb.url, "--exit-code").exit_code == 0  # the ledger alone: nothing to do
        assert sb.stats()["requests_total"] == before
        steps = batchavatars.plan(manifest, refresh=True, base_url=sb.url, api_key=KEY).steps
    assert steps["a2"].action == "create" and "deleted on the account" in steps["a2"].reason
    assert batchavatars.plan(manifest).steps["a2"].action == "skip"


def test_plan_refresh_refuses_a_ledger_made_against_another_api(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        made(tmp_path, sb)
    with serve(SandboxConfig(**CONFIG)) as other:  # another port: another API, where none of its looks is
        refused = plan(manifest, other.url, "--refresh")
    assert refused.exit_code == 2
    assert "made against base_url" in refused.output and other.url.rsplit(":", 1)[1] in refused.output


def test_plan_refresh_against_nothing_exits_6(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        made(tmp_path, sb)
        url = sb.url
    gone = plan(manifest, url, "--refresh")  # the sandbox stopped: nothing answers there
    assert gone.exit_code == ExitCode.UNREACHABLE and "cannot reach the API" in gone.output


def test_a_fresh_ledger_has_nothing_to_refresh_and_sends_nothing(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(**CONFIG)) as sb:
        result = plan(manifest, sb.url, "--refresh", "--exit-code")
        assert sb.stats()["requests_total"] == 0
    assert result.exit_code == 5  # everything to create
    assert "note: nothing to refresh: no record holds a look yet" in result.output


@pytest.mark.slow
def test_plan_refresh_of_a_sandbox_trial_reads_the_world_beside_its_ledger(tmp_path):
    path = tmp_path / "solo.yaml"
    path.write_text(
        "version: 1\navatars:\n  - {key: p1, type: photo, name: Pia, file: https://cdn.example.com/p.jpg}\n"
    )
    assert batchavatars.run(path, sandbox=True, rate=0, poll_min=0.05).exit_code == 0
    ledger = tmp_path / "solo.sandbox.ledger.db"
    look_id = Ledger(ledger, create=False, readonly=True).records()["p1"].look_id
    rows = lambda: batchavatars.plan(path, sandbox=True, refresh=True).steps  # noqa: E731
    assert rows()["p1"].action == "skip"
    with serve(SandboxConfig(rate_limit=None), world=world_path(ledger)) as sb:  # the trial's world, on its own
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{look_id}")
    assert rows()["p1"].action == "create"
    world_path(ledger).unlink()  # a trial whose world is gone: every look with it, and no new world written
    assert rows()["p1"].action == "create" and not world_path(ledger).exists()


# -- the sandbox's controls ------------------------------------------------------------------------


def test_the_sandbox_fails_a_look_later_and_revokes_a_twins_consent_on_request():
    body = {"type": "photo", "name": "P", "file": {"type": "url", "url": "https://cdn.example.com/p.jpg"}}
    twin = {"type": "digital_twin", "name": "T", "file": {"type": "url", "url": "https://cdn.example.com/t.mp4"}}
    with serve(SandboxConfig(training_seconds=0.0, rate_limit=None, consent_approval_seconds=0.0)) as sb:
        photo = dashboard(sb, "POST", "/v3/avatars", json=body)["data"]
        look_id, group_id = photo["avatar_item"]["id"], photo["avatar_group"]["id"]
        assert dashboard(sb, "POST", f"/_sandbox/looks/{look_id}/fail")["status"] == "failed"
        look = dashboard(sb, "GET", f"/v3/avatars/looks/{look_id}")["data"]
        assert (look["status"], look["error"]["code"]) == ("failed", "training_failed")
        refused = httpx.post(f"{sb.url}/_sandbox/groups/{group_id}/revoke_consent")
        assert refused.status_code == 400 and "not a digital twin" in refused.json()["error"]["message"]
        assert httpx.post(f"{sb.url}/_sandbox/looks/look_nosuch/fail").status_code == 404

        made = dashboard(sb, "POST", "/v3/avatars", json=twin)["data"]
        tid, gid = made["avatar_item"]["id"], made["avatar_group"]["id"]
        dashboard(sb, "POST", f"/v3/avatars/{gid}/consent", json={})
        assert dashboard(sb, "GET", f"/v3/avatars/{gid}")["data"]["status"] == "completed"
        assert dashboard(sb, "POST", f"/_sandbox/groups/{gid}/revoke_consent")["status"] == "pending_consent"
        group = dashboard(sb, "GET", f"/v3/avatars/{gid}")["data"]
        assert (group["status"], group["consent_status"]) == ("pending_consent", None)
        assert dashboard(sb, "GET", f"/v3/avatars/looks/{tid}")["data"]["status"] == "completed"  # trained: stays
        dashboard(sb, "POST", f"/v3/avatars/{gid}/consent", json={})  # asked anew, approved anew
        assert dashboard(sb, "GET", f"/v3/avatars/{gid}")["data"]["status"] == "completed"
        assert dashboard(sb, "GET", f"/v3/avatars/looks/{tid}")["data"]["status"] == "completed"


def _all_looks(sb) -> list[dict]:
    looks: list[dict] = []
    token = None
    while True:
        params = {"limit": 50, **({"token": token} if token else {})}
        page = httpx.get(sb.url + "/v3/avatars/looks", params=params, headers={"X-Api-Key": KEY}).json()
        looks += page["data"]
        token = page.get("next_token")
        if not page.get("has_more") or not token:
            return looks


def test_a_plan_saved_with_refresh_is_run_against_the_account_and_refused_once_it_moved(tmp_path):
    manifest, saved = write(tmp_path), tmp_path / "p.json"
    with serve(SandboxConfig(**CONFIG)) as sb:
        old = made(tmp_path, sb)
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{old['a1'].look_id}")
        assert plan(manifest, sb.url, "--refresh", "-o", str(saved)).exit_code == 0
        assert json.loads(saved.read_text())["options"]["refresh"] is True
        applied = batchavatars.run(manifest, base_url=sb.url, saved_plan=str(saved), **FAST)
        assert applied.exit_code == 0 and sb.stats()["created"]["looks"] == 5 + 3  # a1 and its two looks, again
        old = records(tmp_path)
        assert plan(manifest, sb.url, "--refresh", "-o", str(saved)).exit_code == 0  # nothing to do now
        dashboard(sb, "DELETE", f"/v3/avatars/looks/{old['a2'].look_id}")  # the account moves after the review
        with pytest.raises(batchavatars.UsageError, match="the run would not do what the plan says"):
            batchavatars.run(manifest, base_url=sb.url, saved_plan=str(saved), **FAST)
        assert sb.stats()["created"]["looks"] == 8  # nothing sent
    # Refused, nothing sent; the ledger holds the account's word (a2 gone), which the next plan shows.
    assert records(tmp_path)["a2"].status == "pending"
