"""The shared rate meter and training gate, on anyio's clock (no wall-clock assertions)."""

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from batchavatars.meter import RateMeter, TrainingGate

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


async def test_meter_paces_requests_to_the_rate():
    clock = FakeClock()
    meter = RateMeter(10, clock=clock)
    for _ in range(5):
        await meter.acquire()  # each reserves the next 0.1 s slot; fake clock: no sleep needed to check
    assert meter._next == pytest.approx(0.5)


async def test_a_429_slows_the_rate_once_per_window_and_holds_everyone():
    clock = FakeClock()
    meter = RateMeter(20, clock=clock)
    meter.on_rate_limited(2.0)
    meter.on_rate_limited(2.0)  # the same burst: one decrease, not two
    assert meter.rate == pytest.approx(14)
    assert meter._hold_until == pytest.approx(2.0)
    for _ in range(20):
        meter.on_success()
    assert 14 < meter.rate < 16  # additive: a few percent per second of clean answers
    for _ in range(400):
        meter.on_success()
    assert meter.rate == pytest.approx(20)  # recovers, never above the ceiling


async def test_gate_holds_creations_at_the_cap_until_one_finishes():
    gate = TrainingGate(cap=2)
    gate.started()
    gate.started()
    admitted = []

    async def creator():
        await gate.slot()
        admitted.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(creator)
        await wait_all_tasks_blocked()  # the creator waits at the gate: exact, no sleep
        assert admitted == []
        gate.finished()
    assert admitted == [True]


async def test_gate_learns_the_cap_from_a_429_and_probes_upwards():
    gate = TrainingGate(probe_every=0.01)
    for _ in range(3):
        gate.started()
    gate.on_cap_hit()
    assert gate.cap == 3
    with anyio.fail_after(1):
        slot = await gate.slot()  # a probe goes through after probe_every
    slot.give_back()
    gate.started()
    assert gate.cap == 4  # the server took a fourth: the cap is higher than learned


async def test_a_burst_of_completions_admits_only_as_many_creations_as_free_slots():
    gate = TrainingGate(cap=3)
    for _ in range(3):
        slot = await gate.slot()
        slot.give_back()
        gate.started()
    admitted = []

    async def creator(i):
        await gate.slot()  # held: answered later
        admitted.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(creator, i)
        await wait_all_tasks_blocked()
        assert admitted == []
        gate.finished(3)  # one poll sees all three done
        await wait_all_tasks_blocked()
        assert len(admitted) == 3  # not all five waiters
        tg.cancel_scope.cancel()
