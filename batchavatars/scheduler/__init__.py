"""What runs when: the heart of batchavatars.

Items flow pending → creating → (training | awaiting consent) → succeeded | failed, and a failed
parent blocks the dependents not yet sent. There are no phases: an item starts the moment what it
needs is known (a `group:` child its parent's group id; a look its parent's completed training).

The decisions are pure and tested without I/O: the item state table (`_state`), the ledger set
against the plan (`_reconcile`), readiness and blocking (`_graph`), when and how to poll
(`_timing`). The modules that do I/O are thin: requests under the limits and the retry policy
(`_requester`), creating one item (`_creator`), watching training and consent (`_poller`), the
ledger writes as named transitions (`_book`), and the run's lifecycle (`_core`).
"""

from ..requester import Abandoned, ItemFailed
from ._core import Scheduler
from ._options import RunOptions, RunResult

__all__ = ["Abandoned", "ItemFailed", "RunOptions", "RunResult", "Scheduler"]
