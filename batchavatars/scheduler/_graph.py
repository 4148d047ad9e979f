"""The items of one run as a graph, with no I/O: who is ready, who a success unblocks, who a
failure blocks. The plan (plan.py) fixes the edges and priorities; this module answers questions
about them as the run's state changes."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping

from ..planner import Need, Plan, Step
from ..records import Record, Status
from ..spec import ItemSpec
from ._observe import LookState
from ._phase import Phase, next_phase


class Node:
    """One item in this run: its plan step, its ledger record, and what the run does with it next.

    `since` and `checked` feed the training-time estimate: when its training started as far as we
    know, and when a poll last found it still training."""

    __slots__ = ("step", "record", "phase", "order", "since", "checked", "look")

    def __init__(self, step: Step, record: Record, order: int) -> None:
        self.step = step
        self.record = record
        self.phase = Phase.WAITING
        self.order = order
        self.since = 0.0
        self.checked = 0.0
        self.look: LookState | None = None  # the look's own state, as last reported

    def move(self, to: Phase) -> None:
        """The one way a phase changes: checked against the table in _phase.py."""
        self.phase = next_phase(self.phase, to)

    @property
    def spec(self) -> ItemSpec:
        return self.step.spec

    @property
    def key(self) -> str:
        return self.step.spec.key


def is_twin(node: Node) -> bool:
    """A digital twin: the item whose group may wait for the depicted person's consent."""
    return node.spec.kind == "avatar" and node.spec.type == "digital_twin"


def needs_met(need: Need | None, parent: Record | None) -> bool:
    """A `group:` child needs its parent's group id; a look its parent's look id AND completed
    training (HeyGen rejects a look made from a parent that has not finished)."""
    if need is None or parent is None:
        return True
    if need == "group":
        return parent.group_id is not None
    return parent.status == Status.SUCCEEDED and parent.look_id is not None


class Graph:
    """The nodes of a run and the plan's edges between them."""

    def __init__(self, plan: Plan, nodes: Mapping[str, Node]) -> None:
        self.plan = plan
        self.nodes = dict(nodes)

    def parent(self, node: Node) -> Node | None:
        key = node.spec.parent
        return self.nodes.get(key) if key is not None else None

    def ready_to_start(self, node: Node) -> bool:
        parent = self.parent(node)
        return needs_met(node.step.need, parent.record if parent else None)

    def unblocked_by(self, node: Node, what: Need) -> Iterator[Node]:
        """Waiting children that `node` having its group id ("group") or its trained look ("look")
        lets start now. A trained look also satisfies a child that needs only the group."""
        for key in self.plan.children.get(node.key, ()):
            child = self.nodes[key]
            if child.phase != Phase.WAITING or (child.step.need != what and what != "look"):
                continue
            if self.ready_to_start(child):
                yield child

    def blocked_by(self, root: Node, state: str = "failed") -> Iterator[tuple[Node, str]]:
        """Descendants of a failed `root` that were not sent and now never can be, each with why.
        A `group:` child whose parent's group exists already is not blocked: it needs nothing more."""
        stack = [(root.key, c) for c in self.plan.children.get(root.key, ())]
        while stack:
            parent_key, key = stack.pop()
            child = self.nodes[key]
            if child.phase != Phase.WAITING or (child.step.need == "group" and self.ready_to_start(child)):
                continue
            if parent_key == root.key:
                why = f"parent {root.key} {state}"
            else:
                why = f"parent {parent_key} is blocked: {root.key} {state}"
            yield child, why
            stack.extend((key, c) for c in self.plan.children.get(key, ()))


class ReadyQueue:
    """Ready items, the plan's priority first (deepest chain head, then most work unblocked), then
    manifest order."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._heap: list[tuple[int, int, int, str]] = []

    def push(self, node: Node) -> None:
        height, descendants = self._plan.priority(node.key)
        heapq.heappush(self._heap, (height, descendants, node.order, node.key))

    def pop(self) -> str:
        return heapq.heappop(self._heap)[3]

    def __len__(self) -> int:
        return len(self._heap)
