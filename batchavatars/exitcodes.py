"""Exit codes, stable and aligned with HeyGen's own CLI buckets. Documented in the README."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every selected item succeeded
    ITEMS_FAILED = 1  # some items failed or are blocked by a failed parent
    USAGE = 2  # bad command line, manifest, ledger or lock held by another run
    AUTH = 3  # key rejected (401) or not permitted (403)
    WAITING = 4  # work left training or awaiting consent after --wait-timeout (or --no-wait)
    PLAN_HAS_WORK = 5  # `plan --exit-code`: the plan has work (an action other than skip, or a prune)
    UNREACHABLE = 6  # the API could not be reached (nothing answered at the base URL), whichever command
    INTERRUPTED = 130  # SIGINT/SIGTERM; the ledger is consistent
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`): stopped quietly, as git does
