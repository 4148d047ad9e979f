"""`batchavatars check`: before a 2,000-item batch, does the key work, and has the account the
credits the plan needs? Reads the account from GET /v3/users/me, whose `billing_type` says which
of `wallet`, `subscription` or `usage_based` holds the balance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .apierrors import ApiError, AuthFailed, HttpError
from .client import HeyGenClient
from .errors import ApiUnreachable, AuthError, UsageError
from .exitcodes import ExitCode
from .planner import Plan

# The plan's actions that send a creation (a retry may replay an earlier one for free: counted anyway).
CREATING = ("create", "retry")


@dataclass(frozen=True, slots=True)
class Account:
    who: str
    billing_type: str
    remaining: float | None  # in credits; None when the account does not say it in credits
    balance: str  # how the account states its balance, for people


@dataclass(frozen=True, slots=True)
class Preflight:
    """What `check` found: the plan's size and creations, their cost, and the account."""

    items: int
    creations: int
    credits_needed: float
    account: Account

    @property
    def enough(self) -> bool:
        """The credits cover the creations (or the account does not state them in credits)."""
        return self.account.remaining is None or self.account.remaining >= self.credits_needed

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.enough else ExitCode.ITEMS_FAILED


def amount(value: float) -> str:
    """1,000,000 rather than 1e+06; cents where there are any."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _who(me: dict[str, Any]) -> str:
    name = " ".join(str(me.get(f) or "") for f in ("first_name", "last_name")).strip()
    ident = str(me.get("username") or me.get("email") or "unknown")
    email = me.get("email")
    parts = [p for p in (name, email if isinstance(email, str) and email != ident else "") if p]
    return f"{ident} ({', '.join(parts)})" if parts else ident


def _wallet(block: dict[str, Any]) -> tuple[float | None, str]:
    balance = _number(block.get("remaining_balance"))
    currency = str(block.get("currency") or "credits")
    if balance is None:
        return None, "balance not stated"
    if currency == "credits":
        return balance, f"{amount(balance)} credits remaining"
    return None, f"{balance:,.2f} {currency.upper()} remaining (not in credits)"


def _subscription(block: dict[str, Any]) -> tuple[float | None, str]:
    credits = block.get("credits")
    credits = credits if isinstance(credits, dict) else {}
    found = [
        _number(part.get("remaining"))
        for part in (credits.get("premium_credits"), credits.get("add_on_credits"))
        if isinstance(part, dict)
    ]
    known = [n for n in found if n is not None]
    if not known:
        return None, f"plan {block.get('plan') or 'unknown'}, credits not stated"
    total = sum(known)
    return total, f"plan {block.get('plan') or 'unknown'}, {amount(total)} credits remaining (premium and add-on)"


def _usage_based(block: dict[str, Any]) -> tuple[float | None, str]:
    remaining = _number(block.get("remaining_credits"))
    if remaining is None:
        return None, "usage-based, credits not stated"
    return remaining, f"usage-based, {amount(remaining)} credits remaining"


_BILLING = {"wallet": _wallet, "subscription": _subscription, "usage_based": _usage_based}


def read_account(me: dict[str, Any]) -> Account:
    kind = str(me.get("billing_type") or "")
    block = me.get(kind)
    reader = _BILLING.get(kind)
    if reader is None or not isinstance(block, dict):
        return Account(_who(me), kind or "unknown", None, "the account states no balance")
    remaining, balance = reader(block)
    return Account(_who(me), kind, remaining, balance)


def creations(the_plan: Plan) -> int:
    counts = the_plan.counts()
    return sum(counts.get(action, 0) for action in CREATING)


async def fetch_account(url: str, api_key: str) -> Account:
    """The account behind the key; AuthError (exit 3) when the key is refused, UsageError (exit 2)
    when the API cannot be reached or gives no usable answer."""
    async with HeyGenClient(url, api_key) as client:
        try:
            me = await client.get_me()
        except AuthFailed as error:
            raise AuthError(
                f"the API key was refused ({error.status} {error.code}: {error.message}). "
                "Fix: set HEYGEN_API_KEY to a valid key of an account with API access"
            ) from None
        except HttpError as error:
            raise UsageError(
                f"{url}: GET /v3/users/me answered {error.status} {error.code}. Fix: check --base-url "
                "(or HEYGEN_BASE_URL) names the HeyGen API"
            ) from None
        except ApiError as error:
            raise ApiUnreachable(
                f"{url}: cannot reach the API ({error}). Fix: check the network and --base-url (or HEYGEN_BASE_URL)"
            ) from None
    return read_account(me)
