"""The plan is pure: these tests need no server and no disk."""

import dataclasses

import pytest

from batchavatars.planner import build_plan, prune_reason
from batchavatars.records import Record
from batchavatars.spec import FileRef, ItemSpec

from .specs import avatar, look

ITEMS = [
    avatar("ava"),
    avatar("sam", "digital_twin"),
    avatar("sam-alt", group="sam"),
    look("ava-office", "ava"),
    look("ava-office-night", "ava-office"),
    look("ceo", avatar_id="look_ext"),
]


def record(spec, status, **kw):
    return Record(
        key=spec.key,
        kind=spec.kind,
        type=spec.type,
        name=spec.name,
        parent=spec.parent,
        status=status,
        spec_hash=kw.pop("spec_hash", spec.spec_hash),
        **kw,
    )


def test_fresh_ledger_creates_everything_and_knows_what_waits_for_what():
    plan = build_plan(ITEMS, {})
    assert {s.action for s in plan.steps.values()} == {"create"}
    assert plan.steps["sam-alt"].need == "group"  # a group child needs only the group id
    assert plan.steps["ava-office"].need == "look"  # a look needs its parent trained
    assert plan.steps["ceo"].need is None  # an external parent exists already
    assert plan.children["ava"] == ["ava-office"] and plan.children["ava-office"] == ["ava-office-night"]


def test_priority_puts_the_head_of_the_longest_chain_first():
    plan = build_plan(ITEMS, {})
    order = sorted(plan.steps, key=lambda k: (plan.priority(k), list(plan.steps).index(k)))
    assert order[0] == "ava"  # ava → office → night is the deepest chain
    assert plan.height["ava"] == 2 and plan.descendants["ava"] == 2
    assert plan.height["ceo"] == 0


def test_resume_from_ledger_skips_polls_and_retries():
    by = {s.key: s for s in ITEMS}
    records = {
        "ava": record(by["ava"], "succeeded", look_id="l1", group_id="g1"),
        "sam": record(by["sam"], "awaiting_consent", look_id="l2", group_id="g2"),
        "sam-alt": record(by["sam-alt"], "creating", idempotency_key="k"),
        "ava-office": record(by["ava-office"], "failed", error_code="invalid_parameter"),
    }
    steps = build_plan(ITEMS, records).steps
    assert [steps[k].action for k in ("ava", "sam", "sam-alt", "ava-office", "ava-office-night")] == [
        "skip",
        "poll",
        "retry",
        "retry",
        "create",
    ]
    assert "Idempotency-Key" in steps["sam-alt"].reason


def test_changed_spec_is_left_alone_unless_recreated():
    by = {s.key: s for s in ITEMS}
    records = {"ava": record(by["ava"], "succeeded", look_id="l1", group_id="g1", spec_hash="old")}
    assert build_plan(ITEMS, records).steps["ava"].action == "changed"
    replaced = build_plan(ITEMS, records, recreate=["ava"]).steps
    assert replaced["ava"].action == "replace"


def test_a_name_only_change_of_a_photo_avatar_is_a_rename():
    import dataclasses

    by = {s.key: s for s in ITEMS}
    renamed = dataclasses.replace(by["ava"], name="Ava Reyes-Smith")
    records = {"ava": record(by["ava"], "succeeded", look_id="l1", group_id="g1")}
    step = build_plan([renamed, *ITEMS[1:]], records).steps["ava"]
    assert step.action == "rename" and "'Ava'" in step.reason
    look = dataclasses.replace(by["ava-office"], name="Office, new")  # a prompt look: HeyGen cannot rename it
    records["ava-office"] = record(by["ava-office"], "succeeded", look_id="l2", group_id="g1")
    assert build_plan([*ITEMS[:3], look, *ITEMS[4:]], records).steps["ava-office"].action == "changed"


def test_a_replaced_item_takes_what_was_made_from_it_along():
    by = {s.key: s for s in ITEMS}
    records = {
        key: record(by[key], "succeeded", look_id=f"l-{key}", group_id="g1")
        for key in ("ava", "ava-office", "ava-office-night")
    }
    steps = build_plan(ITEMS, records, recreate=["av*"]).steps
    assert steps["ava-office-night"].action == "replace"
    steps = build_plan(ITEMS, records, recreate=["ava"]).steps
    assert [steps[k].action for k in ("ava", "ava-office", "ava-office-night")] == ["replace"] * 3
    assert steps["ava-office-night"].reason == "replace: parent ava-office replaced"


def test_ledger_records_of_items_gone_from_the_manifest_are_to_prune():
    by = {s.key: s for s in ITEMS}
    gone = record(by["ava"], "succeeded", look_id="l1")
    gone.key = "old-ava"
    plan = build_plan(ITEMS, {"old-ava": gone})
    assert [r.key for r in plan.prune] == ["old-ava"] and plan.counts()["prune"] == 1


@pytest.mark.parametrize("option", ["only", "exclude", "recreate"])
def test_a_pattern_that_matches_nothing_is_a_usage_error_naming_the_closest_keys(option):
    from batchavatars.errors import UsageError

    with pytest.raises(UsageError, match=r"'ava-ofice' matches no item \(closest: ava-office"):
        build_plan(ITEMS, {}, **{option: ["ava-ofice"]})


def test_excluding_an_item_excludes_what_is_made_from_it_and_says_so():
    plan = build_plan(ITEMS, {}, exclude=["ava"])
    assert not {"ava", "ava-office", "ava-office-night"} & set(plan.steps)
    assert "ava-office, ava-office-night excluded too: made from ava" in plan.notes


def test_selection_includes_needed_parents_and_says_so():
    plan = build_plan(ITEMS, {}, only=["ava-office-*"])
    assert list(plan.steps) == ["ava", "ava-office", "ava-office-night"]
    assert "ava included: ava-office needs it" in plan.notes
    plan = build_plan(ITEMS, {}, exclude=["sam*"])
    assert "sam" not in plan.steps and "sam-alt" not in plan.steps


def test_a_parent_two_selected_items_need_is_noted_for_the_first_of_them_every_time():
    items = [avatar("p"), *(look(key, "p") for key in ("a", "b", "c", "d", "e", "f", "g", "h"))]
    plan = build_plan(items, {}, only=["[a-h]"])
    assert plan.notes == ["p included: a needs it"]  # manifest order, not the order of a set of strings


def test_long_chains_do_not_recurse():
    chain = [avatar("root")] + [look(f"l{i}", "root" if i == 0 else f"l{i - 1}") for i in range(5000)]
    plan = build_plan(chain, {})
    assert plan.height["root"] == 5000


def test_a_record_no_longer_in_the_manifest_is_a_prune_that_says_what_prune_would_do():
    made = Record("gone", "look", "prompt", "Gone", "ava", "succeeded", "h", look_id="look_9")
    adopted = Record("found", "avatar", "photo", "Found", None, "succeeded", "h", look_id="look_8", origin="adopted")
    plan = build_plan(ITEMS, {"gone": made, "found": adopted})
    assert plan.counts()["prune"] == 2
    assert prune_reason(made) == "no longer in the manifest; prune --yes deletes look look_9 and forgets the record"
    assert "adopted from the account: prune keeps it unless --include-adopted" in prune_reason(adopted)


def test_a_failed_item_that_was_fixed_is_sent_again_and_what_was_made_from_it_follows():
    """A photo HeyGen could not train from, replaced in the manifest: retried (it is not `changed`
    and left alone), naming what changed; its looks, blocked so far, are made after it."""
    old = avatar("ava", url="https://cdn.example.com/blurry.jpg")
    failed = record(old, "failed", look_id="look_1", error_code="training_failed", error_source="heygen")
    failed.spec_fields = old.spec_fields
    blocked = record(ITEMS[3], "blocked", error_code="parent_failed")
    plan = build_plan(ITEMS, {"ava": failed, "ava-office": blocked})
    assert (plan.steps["ava"].action, plan.steps["ava"].reason) == (
        "retry",
        "failed before (training_failed); changed since: file",
    )
    assert plan.steps["ava-office"].action == "create" and plan.steps["ava-office-night"].action == "create"


def test_what_is_made_from_a_failure_not_sent_again_is_blocked_in_the_plan_too():
    failed = record(ITEMS[0], "failed", error_code="invalid_parameter", error_source="heygen")
    plan = build_plan(ITEMS, {"ava": failed, "ava-office": record(ITEMS[3], "blocked")})
    assert plan.steps["ava"].action == "skip"
    assert (
        plan.steps["ava-office"].action == "blocked"
        and "ava failed (invalid_parameter)" in plan.steps["ava-office"].reason
    )
    assert plan.steps["ava-office-night"].action == "blocked"  # below it too, though it has no record yet
    assert "its parent ava-office is blocked" in plan.steps["ava-office-night"].reason
    assert plan.counts() == {"skip": 1, "blocked": 2, "create": 3}  # blocked ones are no creation to pay for


@pytest.mark.parametrize(
    "change,named",
    [
        (dict(prompt="Now in a garden"), "prompt"),
        (dict(name="Ava, garden"), "name"),
        (dict(parent="sam"), "parent"),
    ],
)
def test_a_change_names_the_fields_that_changed(change, named):
    spec = ITEMS[3]  # ava-office, a look of ava
    made = record(spec, "succeeded", look_id="look_2")
    made.spec_fields = spec.spec_fields
    plan = build_plan([*ITEMS[:3], dataclasses.replace(spec, **change), *ITEMS[4:]], {"ava-office": made})
    assert plan.steps["ava-office"].action == "changed"
    assert f"(succeeded): {named}; left alone without --replace" in plan.steps["ava-office"].reason


def test_new_bytes_at_the_same_path_are_named_file_content():
    old, new = photo_at("/m/pic.jpg", "a" * 64), photo_at("/m/pic.jpg", "b" * 64)
    made = record(old, "succeeded", look_id="look_3")
    made.spec_fields = old.spec_fields
    reason = build_plan([new], {"pic": made}).steps["pic"].reason
    assert "changed since it was made (succeeded): file content;" in reason


def photo_at(path: str, sha: str) -> ItemSpec:
    """A photo avatar from a local file whose content hashes to `sha`."""
    return dataclasses.replace(avatar("pic", path=path), file=FileRef("path", path, sha256=sha))
