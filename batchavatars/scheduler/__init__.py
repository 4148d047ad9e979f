"""What runs when: the heart of batchavatars.

Items flow pending → creating → (training | awaiting consent) → succeeded | failed, and a failed
parent blocks the dependents not yet sent. Avatars and looks are not made in stages (all avatars,
then all looks): an item starts the moment what it needs is known (a `group:` child its parent's
group id; a look its parent's completed training).

The decisions are pure and tested without I/O: what this run does with an item next (`_phase`,
a table), the ledger set against the plan (`_reconcile`), readiness and blocking (`_graph`), when
and how to poll (`_timing`), what HeyGen's answers mean (`_observe`). The modules that do I/O are
thin: creating one item (`_creator`), watching training and consent (`_poller`), and the run's
lifecycle (`_core`). Requests go through the request layer (`..requester`), and every status
change through the item book (`..lifecycle`).
"""

from ._core import Scheduler

__all__ = ["Scheduler"]
