"""A key renamed in the manifest (`omar` → `omar-b`): offered as a move, never a second avatar. The
pure part here; over loopback against the sandbox at the end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import batchavatars
from batchavatars.errors import UsageError
from batchavatars.moves import moved, suggest
from batchavatars.planner import build_plan
from batchavatars.records import Record
from batchavatars.sandbox import SandboxConfig, serve

from .specs import avatar, look

OMAR = avatar("omar", "digital_twin")
OFFICE = look("omar-office", "omar")


def made(spec, look_id: str) -> Record:
    return Record(spec.key, spec.kind, spec.type, spec.name, spec.parent, "succeeded", spec.spec_hash, look_id=look_id)


LEDGER = {"omar": made(OMAR, "look_1"), "omar-office": made(OFFICE, "look_2")}
RENAMED = [dataclasses.replace(OMAR, key="omar-b"), dataclasses.replace(OFFICE, parent="omar-b")]


def test_a_new_key_asking_for_what_a_vanished_key_was_made_from_is_offered_as_a_move_and_left_alone():
    plan = build_plan(RENAMED, LEDGER)
    assert plan.offered == {"omar-b": "omar"}
    step = plan.steps["omar-b"]
    assert step.action == "move" and "--move omar=omar-b" in step.reason and "--replace omar-b" in step.reason
    assert plan.left_alone_options(plan.left_alone()) == ["--move omar=omar-b"]
    assert "--move omar=omar-b keeps look look_1" in plan.why_prune(LEDGER["omar"])


def test_a_confirmed_move_keeps_the_look_and_what_was_made_from_it_follows_its_new_key():
    plan = build_plan(RENAMED, LEDGER, moves={"omar": "omar-b"})
    assert {k: s.action for k, s in plan.steps.items()} == {"omar-b": "skip", "omar-office": "skip"}
    assert plan.steps["omar-b"].reason.startswith("moved from omar (the same request, the same look)")
    assert plan.prune == [] and plan.offered == {}
    after = moved(RENAMED, LEDGER, {"omar": "omar-b"})
    assert (after["omar-b"].look_id, after["omar-office"].parent) == ("look_1", "omar-b")


def test_a_key_renamed_with_its_child_renamed_too_is_one_move_each():
    both = [RENAMED[0], dataclasses.replace(OFFICE, key="omar-b-office", parent="omar-b")]
    assert suggest(both, LEDGER) == {"omar-b": "omar", "omar-b-office": "omar-office"}


def test_another_request_under_a_new_key_is_not_a_move_and_a_wrong_move_is_refused_saying_why():
    other = [dataclasses.replace(OMAR, key="omar-b", name="Omar B")]
    assert suggest(other, LEDGER) == {}
    with pytest.raises(UsageError, match="does not ask for what omar was made from"):
        moved(other, LEDGER, {"omar": "omar-b"})
    with pytest.raises(UsageError, match="the ledger has no item nobody"):
        moved(RENAMED, LEDGER, {"nobody": "omar-b"})


@pytest.mark.anyio
async def test_a_renamed_twin_is_not_made_twice(tmp_path: Path):
    manifest = tmp_path / "team.yaml"
    text = 'version: 1\navatars:\n  - {key: @KEY, type: photo, name: Omar, file: "https://cdn.example.com/o.jpg"}\n'
    manifest.write_text(text.replace("@KEY", "omar"))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, rate=0, api_key="k")
        manifest.write_text(text.replace("@KEY", "omar-b"))
        held = await batchavatars.arun(manifest, base_url=sb.url, rate=0, api_key="k")
        assert held.left_alone == ["omar-b"] and held.left_alone_options == ["--move omar=omar-b"]
        moved_run = await batchavatars.arun(manifest, base_url=sb.url, rate=0, api_key="k", moves=(("omar", "omar-b"),))
        stats = sb.stats()
    assert stats["created"]["looks"] == 1  # one avatar, never a second
    assert moved_run.exit_code == 0
    assert [(r.key, r.look_id) for r in moved_run.records] == [("omar-b", first.records[0].look_id)]
