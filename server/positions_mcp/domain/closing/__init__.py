"""Closing plans: what ``close_position`` / ``close_positions`` would send. Pure, no I/O.

The plan mirrors what the API does (Clear Street's API documentation): one MARKET DAY order per position,
SELL to close a long and BUY to close a short, for the available quantity, or, when
``cancel_orders`` is true, for the whole position less what pending exercise instructions hold
(working orders on the instrument are cancelled first; exercise instructions are not orders, and
only ``cancel_position_instruction`` frees their contracts).

Decisions:

* ``cancel_orders=None`` means **false**. The API's default is undocumented (Clear Street's API documentation), so
  the executing tool must send an explicit ``{"cancel_orders": false}`` rather than ``{}``.
* The order quantity never exceeds the position, and pending exercises hold their contracts
  whatever ``cancel_orders`` says (:mod:`.quantity`).
* Price, notional and the multiplier of an option, never a constant (:mod:`.planned_order`).
* The notional cap, CASH positions left out of close-all, the market's session (:mod:`.plan_checks`).
* An option past its last trade cannot trade before it expires: its close is blocked, with what
  expiry does instead; on the last trading day the close is warned about (:mod:`.expiring`).
  Close-all cannot leave it out (Clear Street closes every position in one request), so it is
  blocked whole (:mod:`.plan_checks`).

The package, by concept: :mod:`.selection` (which positions a request closes, what kind each is),
:mod:`.context` (what a plan knows besides the positions), :mod:`.issues` (warning and block
codes), :mod:`.quantity`, :mod:`.planned_order`, :mod:`.expiring`, :mod:`.plan_checks`,
:mod:`.plan_text` (how the plan reads) and :mod:`.plan` (the plan and its two entry points).
"""

from __future__ import annotations

from ..moneyness import PriceSource
from ..resolve import ResolveError
from .expiring import cannot_close, last_day_warning
from .issues import CloseCode, Issue
from .plan import MAX_LISTED_ORDERS, MAX_LISTED_WARNINGS, ClosePlan, plan_close_position, plan_close_positions
from .plan_checks import CAP_SETTING
from .plan_text import estimate_text
from .planned_order import PlannedOrder
from .selection import close_scope, is_option

__all__ = [
    "CAP_SETTING",
    "MAX_LISTED_ORDERS",
    "MAX_LISTED_WARNINGS",
    "CloseCode",
    "ClosePlan",
    "Issue",
    "PlannedOrder",
    "PriceSource",
    "ResolveError",
    "cannot_close",
    "close_scope",
    "estimate_text",
    "is_option",
    "last_day_warning",
    "plan_close_position",
    "plan_close_positions",
]
