"""The scheduler's decisions are pure: the item state table, the ledger set against the plan,
readiness and blocking, and poll timing. No server, no disk, no clock."""

import pytest

from batchavatars.lifecycle import TRANSITIONS, IllegalTransition, new_record, next_status
from batchavatars.lifecycle import Transition as Event
from batchavatars.planner import build_plan
from batchavatars.records import ErrorSource, Record, Status
from batchavatars.scheduler._graph import Graph, Node, ReadyQueue
from batchavatars.scheduler._phase import Phase
from batchavatars.scheduler._reconcile import reset_changes, starting_phase
from batchavatars.scheduler._timing import POLL_FLOOR, PollTiming, TrainingClock, choose_poll

from .specs import avatar, look

ITEMS = [
    avatar("ava"),
    avatar("sam", "digital_twin"),
    avatar("sam-alt", group="sam"),
    look("ava-office", "ava"),
    look("ava-office-night", "ava-office"),
    look("sam-look", "sam"),
]


def record(key, status, **kw):
    spec = next(s for s in ITEMS if s.key == key)
    kw.setdefault("spec_hash", spec.spec_hash)
    return Record(key=key, kind=spec.kind, type=spec.type, name=spec.name, parent=spec.parent, status=status, **kw)


# -- the state table ---------------------------------------------------------------------------


def test_an_item_moves_through_its_life_by_named_events():
    status = Status.PENDING
    for event in (Event.SUBMIT, Event.ACCEPT, Event.SUCCEED):
        status = next_status(status, event)
    assert status is Status.SUCCEEDED


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (Status.PENDING, Event.SUCCEED),  # nothing was sent: nothing can have succeeded
        (Status.TRAINING, Event.BLOCK),  # a look on HeyGen cannot be blocked by its parent any more
        (Status.SUCCEEDED, Event.FAIL),
        (Status.PENDING, Event.ACCEPT),
        (Status.TRAINING, Event.NO_ANSWER),
    ],
)
def test_impossible_moves_are_refused(status, event):
    with pytest.raises(IllegalTransition, match=event.value):
        next_status(status, event)


def test_every_event_leads_somewhere_and_every_status_can_be_reset():
    assert set(TRANSITIONS) == set(Event)
    assert all(next_status(s, Event.RESET) is Status.PENDING for s in Status)


def test_a_request_without_an_answer_keeps_its_key_for_the_next_attempt():
    assert next_status(Status.CREATING, Event.NO_ANSWER) is Status.UNANSWERED
    assert next_status(Status.UNANSWERED, Event.SUBMIT) is Status.CREATING


# -- the ledger set against the plan ---------------------------------------------------------------


def steps(records, **kw):
    return build_plan(ITEMS, {r.key: r for r in records}, **kw).steps


@pytest.mark.parametrize("status", [Status.CREATING, Status.UNANSWERED])
def test_a_sent_key_is_kept_when_the_item_is_retried(status):
    rec = record("ava", status, idempotency_key="ba1.ava.x.g0", sent_at="t0", error_source=ErrorSource.TRANSPORT)
    step = steps([rec])["ava"]
    changes = reset_changes(step, rec)
    assert step.action == "retry" and changes is not None
    assert "idempotency_key" not in changes and "status" not in changes and "generation" not in changes


def test_a_failure_that_never_reached_heygen_is_simply_retried():
    rec = record("ava", Status.FAILED, error_source=ErrorSource.LOCAL, error_code="file_unreadable")
    step = steps([rec])["ava"]
    assert step.action == "retry" and reset_changes(step, rec)["status"] == Status.PENDING


def test_a_definitive_failure_is_not_sent_again_and_blocks_its_looks_from_the_start():
    rec = record("ava", Status.FAILED, error_source=ErrorSource.HEYGEN, error_code="invalid_parameter")
    step = steps([rec])["ava"]
    assert (step.action, reset_changes(step, rec)) == ("skip", None)
    assert "--retry-failed" in step.reason and starting_phase(step, rec) is Phase.DONE


def test_a_definitive_failure_retried_on_request_moves_to_a_new_generation_and_key():
    rec = record("ava", Status.FAILED, error_source=ErrorSource.HEYGEN, idempotency_key="k", generation=2)
    changes = reset_changes(steps([rec], retry_failed=True)["ava"], rec)
    assert changes is not None
    assert (changes["generation"], changes["idempotency_key"], changes["status"]) == (3, None, Status.PENDING)


def test_a_succeeded_item_is_left_alone_and_starts_done():
    rec = record("ava", Status.SUCCEEDED, look_id="look_1")
    step = steps([rec])["ava"]
    assert reset_changes(step, rec) is None
    assert starting_phase(step, rec) is Phase.DONE


def test_training_items_start_watched_and_new_ones_waiting():
    rec = record("ava", Status.TRAINING, look_id="look_1")
    plan_steps = steps([rec])
    assert starting_phase(plan_steps["ava"], rec) is Phase.WATCH
    assert starting_phase(plan_steps["sam"], new_record(plan_steps["sam"].spec)) is Phase.WAITING


# -- readiness and blocking ------------------------------------------------------------------------


def graph(records=()):
    plan = build_plan(ITEMS, {r.key: r for r in records})
    by_key = {r.key: r for r in records}
    nodes = {k: Node(s, by_key.get(k) or new_record(s.spec), i) for i, (k, s) in enumerate(plan.steps.items())}
    return plan, Graph(plan, nodes)


def test_a_look_waits_for_its_parents_training_a_group_child_only_for_its_group():
    _, g = graph([record("sam", Status.TRAINING, look_id="l", group_id="g")])
    assert g.ready_to_start(g.nodes["sam-alt"])  # the group exists
    assert not g.ready_to_start(g.nodes["sam-look"])  # the look is still training


def test_a_trained_look_unblocks_its_looks_and_group_children():
    _, g = graph([record("sam", Status.SUCCEEDED, look_id="l", group_id="g")])
    assert {n.key for n in g.unblocked_by(g.nodes["sam"], "look")} == {"sam-alt", "sam-look"}
    assert {n.key for n in g.unblocked_by(g.nodes["sam"], "group")} == {"sam-alt"}


def test_a_failure_blocks_every_unsent_descendant_naming_the_root():
    _, g = graph()
    blocked = dict((n.key, why) for n, why in g.blocked_by(g.nodes["ava"]))
    assert blocked == {
        "ava-office": "parent ava failed",
        "ava-office-night": "parent ava-office is blocked: ava failed",
    }


def test_a_group_child_whose_group_exists_is_not_blocked_by_its_parents_failure():
    _, g = graph([record("sam", Status.TRAINING, look_id="l", group_id="g")])
    assert [n.key for n, _ in g.blocked_by(g.nodes["sam"])] == ["sam-look"]


def test_the_ready_queue_serves_the_head_of_the_longest_chain_first():
    plan, g = graph()
    queue = ReadyQueue(plan)
    for key in ("sam", "ava"):
        queue.push(g.nodes[key])
    assert [queue.pop(), queue.pop()] == ["ava", "sam"]  # ava heads a chain of two looks


# -- poll timing -----------------------------------------------------------------------------------


def test_the_training_estimate_bisects_its_bracket():
    clock = TrainingClock()
    assert clock.next_expected([0.0], after=0.0) is None  # nothing seen yet: back off instead
    clock.learn(since=0.0, checked=4.0, now=10.0)  # still training at 4 s, done by 10 s
    assert (clock.lo, clock.hi) == (4.0, 10.0)
    assert clock.next_expected([100.0], after=100.0) == 107.0  # the middle first
    assert clock.next_expected([100.0], after=107.0) == 110.0  # then the end


def test_a_bracket_that_times_contradict_starts_again():
    clock = TrainingClock()
    clock.learn(since=0.0, checked=4.0, now=5.0)
    clock.learn(since=10.0, checked=16.0, now=17.0)  # this one took more than 6 s: not in [4, 5]
    assert (clock.lo, clock.hi) == (6.0, 7.0)


def test_polls_back_off_while_nothing_changes_and_never_crowd_each_other():
    timing = PollTiming(poll_min=0.5, poll_max=2.0)
    assert timing.next_interval(0.5, changed=False) == 0.75
    assert timing.next_interval(1.8, changed=False) == 2.0
    assert timing.next_interval(2.0, changed=True) == 0.5
    assert timing.due(10.0, 1.0, expected=10.01, deadline=None) == 10.0 + POLL_FLOOR
    assert timing.due(10.0, 30.0, expected=None, deadline=12.0) == 12.0  # --wait-timeout is honoured


@pytest.mark.parametrize(
    ("watched", "groups", "grouped", "scan", "how"),
    [
        (2, {"g1": 1, "g2": 1}, False, 9, "each"),  # two GETs beat a 9-page scan
        (120, {"g1": 60, "g2": 60}, True, 9, "group"),  # 4 group pages beat a 9-page scan
        (120, {"g1": 60, "g2": 60}, False, 9, "scan"),  # a look without a group: only a scan finds it
        (400, {f"g{i}": 1 for i in range(400)}, True, 3, "scan"),
    ],
)
def test_the_poll_takes_the_fewest_requests(watched, groups, grouped, scan, how):
    assert choose_poll(watched, groups, grouped, scan) == how
