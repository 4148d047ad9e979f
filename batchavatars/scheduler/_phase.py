"""What this run does with an item next, as a table, with no I/O.

An item has two views kept in step: its `Status` in the ledger (what survives the process; its
table is in lifecycle.py) and its `Phase` in this run's memory. A phase changes only through
`Node.move` (in _graph.py), checked against `PHASES`, so a node can never be both queued and
watched, or be created twice in one run.
"""

from __future__ import annotations

from enum import StrEnum

from ..lifecycle import IllegalTransition


class Phase(StrEnum):
    """What this run does with an item next."""

    WAITING = "waiting"  # for its parent (or for nothing yet: not ready)
    READY = "ready"  # queued for a worker
    RUNNING = "running"  # a worker is creating (or renaming) it
    WATCH = "watch"  # training or awaiting consent: the poller watches it
    DONE = "done"  # nothing more to do this run
    LEFT = "left"  # changed since made: not ours to touch without --replace


# phase -> the phases it may move to. WAITING is where every node starts (the ledger then says
# whether it is done, watched, left alone or still to make).
PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.READY, Phase.WATCH, Phase.DONE, Phase.LEFT}),
    Phase.READY: frozenset({Phase.RUNNING}),
    Phase.RUNNING: frozenset({Phase.WAITING, Phase.WATCH, Phase.DONE}),  # WAITING: the run stopped first
    Phase.WATCH: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
    Phase.LEFT: frozenset(),
}


def next_phase(phase: Phase, to: Phase) -> Phase:
    if to not in PHASES[phase]:
        allowed = ", ".join(sorted(PHASES[phase])) or "nowhere"
        raise IllegalTransition(f"phase {phase.value} to {to.value}: it moves to {allowed}")
    return to
