"""The manifest as the source of truth (plan/apply): rename in place, replace with descendants,
prune, selections that name nothing. Over real loopback HTTP, asserting what the server saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import batchavatars
from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

from .test_cli import run_cli

pytestmark = pytest.mark.anyio

FAST = dict(rate=0, api_key="test-key")
ENV = {"HEYGEN_API_KEY": "test-key"}

MANIFEST = """\
version: 1
avatars:
  - {key: a1, type: photo, name: "@A1_NAME", file: "https://cdn.example.com/a1.jpg"}
  - {key: a2, type: prompt, name: Nova, prompt: "@A2_PROMPT"}
  - {key: b1, type: photo, name: Ben, file: "https://cdn.example.com/b1.jpg"}
looks:
  - {key: a1-office, avatar: a1, name: Ana office, prompt: In an office}
  - {key: a2-office, avatar: a2, name: Nova office, prompt: On the bridge}
@EXTRA"""


def write(tmp_path: Path, *, a1_name: str = "Ana", a2_prompt: str = "A starship captain", extra: str = "") -> str:
    path = tmp_path / "team.yaml"
    text = MANIFEST.replace("@A1_NAME", a1_name).replace("@A2_PROMPT", a2_prompt).replace("@EXTRA", extra)
    path.write_text(text, encoding="utf-8")
    return str(path)


def posts(sb) -> int:
    return sb.stats()["requests"].get("POST /v3/avatars", 0)


async def test_a_name_only_change_is_renamed_in_place(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        look_id = {r.key: r.look_id for r in first.records}["a1"]
        write(tmp_path, a1_name="Ana Reyes")
        assert batchavatars.plan(manifest).steps["a1"].action == "rename"
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0 and posts_after(stats) == 5  # no new creation
    assert stats["renamed"] == 1
    record = Ledger(tmp_path / "team.ledger.db", create=False).records()["a1"]
    assert (record.name, record.look_id, record.status) == ("Ana Reyes", look_id, "succeeded")
    assert batchavatars.plan(manifest).steps["a1"].action == "skip"


def posts_after(stats: dict) -> int:
    return stats["requests"].get("POST /v3/avatars", 0)


@pytest.mark.slow
def test_a_changed_prompt_is_left_alone_then_replaced_with_its_look_and_the_old_ones_deleted(tmp_path):
    manifest = write(tmp_path)
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        url = ["--base-url", sb.url, "--rate", "0"]
        assert run_cli(["run", manifest, *url], ENV).returncode == 0
        old = {r.key: r for r in Ledger(tmp_path / "team.ledger.db", create=False).records().values()}
        write(tmp_path, a2_prompt="A starship captain, dress uniform")
        plan = run_cli(["plan", manifest, "--json"], ENV)
        actions = {row["key"]: row["action"] for row in json.loads(plan.stdout)["items"]}
        assert actions["a2"] == "changed" and actions["a2-office"] == "skip"

        plain = run_cli(["run", manifest, *url, "--json-summary", str(tmp_path / "s.json")], ENV)
        assert plain.returncode == 0 and posts(sb) == 5  # nothing created
        summary = json.loads(plain.stdout.splitlines()[-1])  # off a terminal: the run_summary event
        assert summary["left_alone"] == ["a2"] and "--replace a2" in summary["left_alone_fix"]
        warning = [json.loads(line) for line in plain.stderr.splitlines() if "changed_left_alone" in line]
        assert warning and warning[0]["level"] == "warning" and warning[0]["keys"] == ["a2"]
        assert json.loads((tmp_path / "s.json").read_text())["left_alone"] == ["a2"]

        plan = run_cli(["plan", manifest, "--json", "--replace", "a2"], ENV)
        rows = {row["key"]: row for row in json.loads(plan.stdout)["items"]}
        assert rows["a2-office"]["action"] == "replace" and "parent a2 replaced" in rows["a2-office"]["reason"]
        assert rows["a1-office"]["action"] == "skip"

        applied = run_cli(["run", manifest, *url, "--replace", "a2*", "--delete-replaced"], ENV)
        stats = sb.stats()
    assert applied.returncode == 0, applied.stderr[-2000:]
    assert posts_after(stats) == 7  # the item and its look, made again
    assert stats["deleted"]["looks"] == 2  # the two old looks
    new = Ledger(tmp_path / "team.ledger.db", create=False).records()
    assert new["a2-office"].group_id == new["a2"].group_id != old["a2"].group_id
    history = run_cli(["export", manifest, "--history", "--format", "json"], ENV)
    rows = json.loads(history.stdout)
    assert {(r["key"], r["look_id"]) for r in rows} == {
        ("a2", old["a2"].look_id),
        ("a2-office", old["a2-office"].look_id),
    }
    assert all(r["deleted_at"] for r in rows)


@pytest.mark.slow
def test_an_item_removed_from_the_manifest_is_pruned_only_when_asked(tmp_path):
    manifest = write(tmp_path, extra="  - {key: b1-office, avatar: b1, name: Ben office, prompt: Office}\n")
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        url = ["--base-url", sb.url]
        assert run_cli(["run", manifest, *url, "--rate", "0"], ENV).returncode == 0
        gone = Ledger(tmp_path / "team.ledger.db", create=False).records()["b1-office"]
        write(tmp_path)  # b1-office removed from the manifest
        plan = json.loads(run_cli(["plan", manifest, "--json"], ENV).stdout)
        assert plan["counts"]["prune"] == 1
        pruned = [row for row in plan["items"] if row["action"] == "prune"]
        assert [(row["key"], row["kind"], row["look_id"]) for row in pruned] == [("b1-office", "look", gone.look_id)]
        lines = run_cli(["plan", manifest], ENV).stdout.splitlines()
        assert [line for line in lines if line.startswith("prune")] == [
            f"prune   b1-office (look of b1): no longer in the manifest; prune --yes deletes look {gone.look_id} "
            "and forgets the record"
        ]
        listed = run_cli(["prune", manifest, *url], ENV)
        assert listed.returncode == 0 and "would delete b1-office" in listed.stdout
        assert sb.stats()["deleted"]["looks"] == 0  # listing deletes nothing
        done = run_cli(["prune", manifest, *url, "--yes"], ENV)
        stats = sb.stats()
    assert done.returncode == 0 and "deleted b1-office" in done.stdout
    assert stats["deleted"]["looks"] == 1
    records = Ledger(tmp_path / "team.ledger.db", create=False).records()
    assert "b1-office" not in records and len(records) == 5
    assert gone.look_id in run_cli(["export", manifest, "--history"], ENV).stdout


def test_selections_that_name_nothing_are_refused_and_exclusion_takes_descendants(tmp_path):
    manifest = write(tmp_path)
    typo = run_cli(["plan", manifest, "--only", "nosuch*"], ENV)
    assert typo.returncode == 2 and "--only 'nosuch*' matches no item" in typo.stderr
    close = run_cli(["run", manifest, "--sandbox", "--only", "a1-ofice"], ENV)
    assert close.returncode == 2 and "closest: a1-office" in close.stderr
    plan = json.loads(run_cli(["plan", manifest, "--json", "--exclude", "a1"], ENV).stdout)
    assert {row["key"] for row in plan["items"]} == {"a2", "b1", "a2-office"}
    assert "a1-office excluded too: made from a1" in plan["notes"]


async def test_an_avatar_that_failed_then_was_fixed_is_sent_again_by_a_plain_run_with_its_looks(tmp_path):
    manifest = tmp_path / "team.yaml"
    text = (
        "version: 1\navatars:\n"
        '  - {key: ava, type: photo, name: "@NAME", file: "@FILE"}\n'
        "looks:\n"
        "  - {key: ava-office, avatar: ava, name: Ava office, prompt: In an office}\n"
        "  - {key: ava-night, avatar: ava-office, name: Ava night, prompt: At night}\n"
    )
    manifest.write_text(text.replace("@NAME", "Ava [fail]").replace("@FILE", "https://cdn.example.com/blurry.jpg"))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        assert first.exit_code == 1 and first.counts == {"failed": 1, "blocked": 2}
        manifest.write_text(text.replace("@NAME", "Ava").replace("@FILE", "https://cdn.example.com/sharp.jpg"))
        steps = batchavatars.plan(manifest).steps
        assert (steps["ava"].action, steps["ava"].reason) == (
            "retry",
            "failed before (training_failed); changed since: name, file",
        )
        assert steps["ava-office"].action == steps["ava-night"].action == "create"
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0 and second.counts == {"succeeded": 3}
    assert stats["created"]["looks"] == 4  # the failed one, then the fixed one and its two looks


@pytest.mark.slow
def test_a_copied_folder_shares_the_looks_but_never_deletes_the_ones_the_first_ledger_made(tmp_path):
    """Two folders, one manifest, one account: the second folder's run replays the first's creations
    (the server holds each look once) and records them as adopted, so its prune deletes none of them."""
    first, second = tmp_path / "team", tmp_path / "copy"
    first.mkdir()
    second.mkdir()
    extra = "  - {key: b1-office, avatar: b1, name: Ben office, prompt: Office}\n"
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        url = ["--base-url", sb.url, "--rate", "0", "--no-report"]
        assert run_cli(["run", write(first, extra=extra), *url], ENV).returncode == 0
        made = sb.stats()["created"]["looks"]
        copied = run_cli(["run", write(second, extra=extra), *url], ENV)
        assert copied.returncode == 0, copied.stderr
        assert sb.stats()["created"]["looks"] == made  # each look once on the server
        records = Ledger(second / "team.ledger.db", create=False).records()
        assert {r.origin for r in records.values()} == {"adopted"}  # not made by this ledger
        write(second)  # b1-office removed from the copy's manifest
        pruned = run_cli(["prune", str(second / "team.yaml"), "--base-url", sb.url, "--yes"], ENV)
        stats = sb.stats()
    assert pruned.returncode == 0 and "kept b1-office" in pruned.stdout, pruned.stdout
    assert stats["deleted"]["looks"] == 0
    still = Ledger(first / "team.ledger.db", create=False).records()["b1-office"]
    assert still.status == "succeeded" and still.origin is None  # the first ledger's own, alive on the account
