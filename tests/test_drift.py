"""The ledger set against the account (--refresh): drift.py and the planner given drift. Pure: no
server, no disk (the ledger writes of run --refresh are tested over a ledger at the end)."""

from __future__ import annotations

import dataclasses

import pytest

from batchavatars.drift import Drift, Refreshed, drift_of, group_waits, refresh
from batchavatars.lifecycle import IllegalTransition, ItemBook, Transition, next_status
from batchavatars.planner import build_plan
from batchavatars.records import Record, Status
from batchavatars.scheduler._observe import group_waits as scheduler_group_waits

from .specs import avatar, look

ITEMS = [
    avatar("ava"),
    avatar("sam", "digital_twin"),
    avatar("nova", "prompt"),
    look("ava-office", "ava"),
    look("ava-office-night", "ava-office"),
    look("nova-bridge", "nova"),
]
BY = {s.key: s for s in ITEMS}


def record(key: str, status: str = "succeeded", **kw) -> Record:
    spec = BY[key]
    n = list(BY).index(key)
    defaults = dict(look_id=f"look_{n}", group_id="group_sam" if key == "sam" else f"group_{n}")
    return Record(
        key=key,
        kind=spec.kind,
        type=spec.type,
        name=spec.name,
        parent=spec.parent,
        status=status,
        spec_hash=spec.spec_hash,
        spec_fields=spec.spec_fields,
        **{**defaults, **kw},
    )


def row(r: Record, **kw) -> dict:
    """The account's list row of a record's look, as it stands unless `kw` says otherwise."""
    return {"id": r.look_id, "name": r.name, "group_id": r.group_id, "status": "completed", "error": None, **kw}


def ledger() -> dict[str, Record]:
    return {key: record(key) for key in BY}


def account(records: dict[str, Record], **rows: dict) -> list[dict]:
    """Every record's look as it stands, but those named (None: gone)."""
    out = []
    for key, r in records.items():
        changed = rows.get(key, {})
        if changed is not None:
            out.append(row(r, **changed))
    return out


TWIN_GROUP = {"id": "group_sam", "status": "completed", "consent_status": "approved"}


# -- drift.py -------------------------------------------------------------------------------------


def test_an_account_that_matches_the_ledger_has_no_drift():
    records = ledger()
    found = refresh(records, account(records), [TWIN_GROUP])
    assert found.drift == {} and found.unknown == []
    assert (found.looks, found.groups) == (len(records), 1)
    assert found.summary() == "refreshed from the account (6 looks, 1 groups read): no drift"


def test_each_kind_of_drift_is_named():
    records = ledger()
    looks = account(
        records,
        ava=None,  # gone
        nova={"name": "Captain Nova (old)"},
        **{"ava-office": {"status": "failed", "error": {"code": "training_failed", "message": "bad image"}}},
    )
    waits = {**TWIN_GROUP, "status": "pending_consent", "consent_status": None}
    found = refresh(records, looks, [waits])
    assert {key: d.kind for key, d in found.drift.items()} == {
        "ava": "deleted",
        "sam": "consent_revoked",
        "nova": "renamed",
        "ava-office": "failed_later",
    }
    assert found.drift["ava"].describe() == "deleted on the account (look look_0)"
    assert found.drift["nova"].describe() == "renamed on the account to 'Captain Nova (old)'"
    assert found.drift["ava-office"].describe() == "training failed later on the account (training_failed)"
    assert found.drift["ava-office"].error_message == "bad image"
    assert found.drift["sam"].describe() == "consent revoked on the account (its group waits for consent again)"


@pytest.mark.parametrize(
    "group",
    [
        {"id": "group_sam", "status": "pending_consent", "consent_status": None},
        {"id": "group_sam", "status": "completed", "consent_status": "pending"},
    ],
)
def test_a_twin_waits_again_whichever_way_its_group_says_so(group):
    records = ledger()
    assert refresh(records, account(records), [group]).drift["sam"].kind == "consent_revoked"


def test_a_twin_whose_own_look_waits_for_consent_again_is_revoked_too():
    records = ledger()
    looks = account(records, sam={"status": "pending_consent"})
    assert refresh(records, looks, [TWIN_GROUP]).drift["sam"].kind == "consent_revoked"


def test_a_group_that_waits_says_nothing_of_a_photo_avatar_in_it():
    records = {"ava": record("ava", group_id="group_sam")}
    waits = {**TWIN_GROUP, "status": "pending_consent"}
    assert refresh(records, account(records), [waits]).drift == {}


def test_a_row_without_status_is_unknown_never_drift():
    records = ledger()
    looks = [{k: v for k, v in look_row.items() if k not in ("status", "error")} for look_row in account(records)]
    found = refresh(records, looks, [])  # no group listed either: the twin's wait is unknown too
    assert found.drift == {}
    assert found.unknown == list(records)
    assert "the list gave no status for 6 looks, left as the ledger has them" in found.summary()


def test_a_group_missing_from_the_list_is_unknown_not_a_wait():
    records = ledger()
    assert refresh(records, account(records), []).drift == {}


def test_what_the_ledger_has_not_made_or_that_failed_cannot_drift():
    records = {
        "ava": record("ava", "failed", error_code="training_failed"),
        "nova": record("nova", "pending", look_id=None, group_id=None),
        "sam": record("sam", "creating", look_id=None, group_id=None, idempotency_key="k"),
    }
    assert refresh(records, [], []).drift == {}


def test_a_look_still_training_that_is_gone_or_renamed_drifts_but_its_status_does_not():
    records = {"ava": record("ava", "training"), "nova": record("nova", "training")}
    looks = [row(records["nova"], status="failed", name="Other")]  # ava gone; nova failed: for the run's poll
    found = refresh(records, looks, [])
    assert {key: d.kind for key, d in found.drift.items()} == {"ava": "deleted", "nova": "renamed"}


def test_a_look_failed_later_and_renamed_keeps_both():
    r = record("ava")
    d = drift_of(r, row(r, status="failed", name="Ava (old)"), None)
    assert d is not None and (d.kind, d.renamed_to, d.error_code) == ("failed_later", "Ava (old)", None)


@pytest.mark.parametrize(
    "group",
    [
        {},
        {"status": "pending_consent"},
        {"consent_status": "pending"},
        {"consent_status": None},
        {"status": "completed", "consent_status": "approved"},
        {"status": "processing"},
        {"status": None, "consent_status": None},
    ],
)
def test_a_group_is_read_as_the_scheduler_reads_it(group):
    assert group_waits(group) == scheduler_group_waits(group)


# -- the planner, given drift ---------------------------------------------------------------------


def drifted(**kinds: Drift) -> dict[str, Drift]:
    return kinds


def gone(key: str) -> Drift:
    return Drift(key, f"look_{list(BY).index(key)}", "deleted")


def test_a_deleted_look_is_created_again_and_what_was_made_from_it_replaced():
    plan = build_plan(ITEMS, ledger(), drift={"ava": gone("ava")})
    steps = plan.steps
    assert (steps["ava"].action, steps["ava"].reason) == (
        "create",
        "deleted on the account (look look_0): made again, under a new key",
    )
    assert steps["ava-office"].action == steps["ava-office-night"].action == "replace"
    assert steps["ava-office"].reason == "replace: parent ava deleted on the account"
    assert steps["ava-office-night"].reason == "replace: parent ava-office replaced"
    assert {steps[k].action for k in ("sam", "nova", "nova-bridge")} == {"skip"}


def test_a_deleted_look_under_a_deleted_parent_is_created_and_its_own_descendants_follow():
    drift = {"ava": gone("ava"), "ava-office": gone("ava-office")}
    steps = build_plan(ITEMS, ledger(), drift=drift).steps
    assert steps["ava-office"].action == "create" and "deleted on the account" in steps["ava-office"].reason
    assert steps["ava-office-night"].reason == "replace: parent ava-office deleted on the account"


def test_a_renamed_photo_or_twin_look_is_renamed_to_the_manifests_name():
    d = Drift("ava", "look_0", "renamed", "Ava (dashboard)")
    step = build_plan(ITEMS, ledger(), drift={"ava": d}).steps["ava"]
    assert step.action == "rename"
    assert step.reason == (
        "renamed on the account to 'Ava (dashboard)': renamed to the manifest's 'Ava' in place (no credit, same id)"
    )


def test_a_renamed_prompt_look_cannot_be_renamed_back_and_is_changed():
    d = Drift("nova", "look_2", "renamed", "Old Nova")
    step = build_plan(ITEMS, ledger(), drift={"nova": d}).steps["nova"]
    assert step.action == "changed"
    assert step.reason.startswith("renamed on the account to 'Old Nova'; HeyGen renames only photo and digital-twin")
    assert build_plan(ITEMS, ledger(), drift={"nova": d}, recreate=["nova"]).steps["nova"].action == "replace"


def test_a_dashboard_rename_to_the_manifests_new_name_is_nothing_to_do():
    records = ledger()
    records["ava"] = dataclasses.replace(records["ava"], name="Ava Old")  # the ledger made it as "Ava Old"
    records["ava"].spec_hash = dataclasses.replace(BY["ava"], name="Ava Old").spec_hash
    d = Drift("ava", "look_0", "renamed", "Ava")  # and someone renamed it to the manifest's name since
    assert build_plan(ITEMS, records, drift={"ava": d}).steps["ava"].action == "skip"


def test_a_look_failed_later_is_retried_and_a_revoked_twin_polled():
    failed = Drift("ava", "look_0", "failed_later", error_code="training_failed")
    revoked = Drift("sam", "look_1", "consent_revoked")
    steps = build_plan(ITEMS, ledger(), drift={"ava": failed, "sam": revoked}).steps
    assert steps["ava"].action == "retry"
    assert steps["ava"].reason == "training failed later on the account (training_failed): sent again, under a new key"
    assert steps["ava-office"].action == "skip"  # made from it while it was fine: left as it is
    assert steps["sam"].action == "poll"
    assert steps["sam"].reason.endswith("awaiting consent again; the run asks for it")


def test_drift_follows_a_confirmed_move():
    records = ledger()
    items = [dataclasses.replace(s, key="ava2") if s.key == "ava" else s for s in ITEMS]
    items = [dataclasses.replace(s, parent="ava2") if s.parent == "ava" else s for s in items]
    plan = build_plan(items, records, moves={"ava": "ava2"}, drift={"ava": gone("ava")})
    assert plan.steps["ava2"].action == "create" and "deleted on the account" in plan.steps["ava2"].reason


def test_the_plan_is_the_same_before_and_after_run_refresh_writes_the_account_into_the_ledger(tmp_path):
    """plan --refresh plans against the ledger as it is; run --refresh writes the account's word
    first and plans after: both give the same actions."""
    from batchavatars.ledger import Ledger

    drift = {
        "ava": gone("ava"),
        "nova": Drift("nova", "look_2", "renamed", "Old Nova"),
        "sam": Drift("sam", "look_1", "consent_revoked", "Sam (dashboard)"),
        "nova-bridge": Drift("nova-bridge", "look_5", "failed_later", error_code="training_failed"),
    }
    before = build_plan(ITEMS, ledger(), drift=drift)
    book = Ledger(tmp_path / "t.ledger.db")
    book.put_many(list(ledger().values()))
    items = ItemBook(book)
    records = book.records()
    items.gone(records["ava"])
    items.renamed_on_account(records["nova"], "Old Nova", BY["nova"])
    items.consent_revoked(items.renamed_on_account(records["sam"], "Sam (dashboard)", BY["sam"]))
    items.failed_later(records["nova-bridge"], "training_failed", "bad")
    after = build_plan(ITEMS, book.records(), drift=drift)
    assert {k: (s.action, s.reason) for k, s in after.steps.items()} == {
        k: (s.action, s.reason) for k, s in before.steps.items()
    }
    written = book.records()
    assert (written["ava"].status, written["ava"].look_id, written["ava"].generation) == ("pending", None, 1)
    assert [(row["key"], row["look_id"], row["why"]) for row in book.history()] == [
        ("ava", "look_0", "deleted on the account")
    ]
    assert book.history()[0]["deleted_at"]  # gone already: --delete-replaced never tries it
    assert (written["sam"].status, written["sam"].consent_url) == ("awaiting_consent", None)
    assert (written["nova-bridge"].status, written["nova-bridge"].error_source) == ("failed", "heygen")
    assert written["nova"].name == "Old Nova"
    plain = build_plan(ITEMS, written)  # without the drift, the ledger alone now tells the same story
    assert plain.steps["nova"].action == "changed" and plain.steps["ava"].action == "create"
    assert plain.steps["sam"].action == "changed"  # named otherwise on the account: renamed once it succeeds
    assert (
        plain.steps["nova-bridge"].action == "skip"
    )  # a definitive failure: only --refresh (or --retry-failed) retries it
    book.close()


def test_the_new_transitions_go_only_where_the_table_says():
    assert next_status(Status.SUCCEEDED, Transition.GONE) == Status.PENDING
    assert next_status(Status.TRAINING, Transition.GONE) == Status.PENDING
    assert next_status(Status.SUCCEEDED, Transition.FAIL_LATER) == Status.FAILED
    assert next_status(Status.SUCCEEDED, Transition.CONSENT_REVOKED) == Status.AWAITING_CONSENT
    for status, transition in [
        (Status.PENDING, Transition.GONE),
        (Status.FAILED, Transition.GONE),
        (Status.TRAINING, Transition.FAIL_LATER),
        (Status.TRAINING, Transition.CONSENT_REVOKED),
    ]:
        with pytest.raises(IllegalTransition):
            next_status(status, transition)


def test_a_refresh_summary_names_each_drifted_key():
    found = Refreshed({"ava": gone("ava")}, [], 5, 2)
    assert (
        found.summary()
        == "refreshed from the account (5 looks, 2 groups read): ava: deleted on the account (look look_0)"
    )


def test_a_rename_besides_another_drift_is_said_too():
    revoked = Drift("sam", "look_1", "consent_revoked", "Sam (dashboard)")
    assert revoked.describe() == (
        "consent revoked on the account (its group waits for consent again), and renamed there to 'Sam (dashboard)'"
    )
    step = build_plan(ITEMS, ledger(), drift={"sam": revoked}).steps["sam"]
    assert step.action == "poll" and "renamed there to 'Sam (dashboard)'" in step.reason
