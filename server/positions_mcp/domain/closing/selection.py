"""Which positions a close request selects, and what kind each one is. Pure, no I/O.

A request closes either the one position an instrument names (``close_position``) or every
position of the account (``close_positions``): Clear Street's close-all "submit[s] closing orders
for every position in the account" (Clear Street's API documentation). CASH positions are not
closed by an order, so close-all leaves them out and names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ...clearstreet.models import Position, PositionType, SecurityType
from ..osi import try_parse_osi
from ..resolve import resolve_position

__all__ = [
    "Scope",
    "close_scope",
    "is_cash",
    "is_option",
    "option_by_symbol",
]

Scope = Literal["position", "all"]
"""How a close plan names what it closes (``ClosePlan.scope``)."""

_OPTION_POSITION_TYPES = frozenset(
    {PositionType.LONG_CALL, PositionType.SHORT_CALL, PositionType.LONG_PUT, PositionType.SHORT_PUT}
)
_KNOWN_TYPES = frozenset(SecurityType) - {SecurityType.OTHER}


def close_scope(
    positions: Iterable[Position], instrument_id: str | None, account_id: int | None = None
) -> list[Position]:
    """The positions a close touches: the one ``instrument_id`` names (raises ``ResolveError``),
    or, for close-all (``None``), every non-cash position with a quantity. The executing tool
    fingerprints this same scope on re-read positions."""
    held = list(positions)
    if instrument_id is not None:
        return [resolve_position(held, instrument_id, account_id)]
    return [p for p in held if not is_cash(p) and p.quantity != 0]


def is_cash(position: Position) -> bool:
    return position.instrument_type == SecurityType.CASH


def is_option(position: Position) -> bool:
    """An option row: ``instrument_type`` OPTION, a seed-era option ``position_type``, or an
    ``instrument_type`` this server does not know (or OTHER) with an OSI option symbol."""
    if position.instrument_type == SecurityType.OPTION or position.position_type in _OPTION_POSITION_TYPES:
        return True
    return option_by_symbol(position)


def option_by_symbol(position: Position) -> bool:
    """An option only by its symbol: an ``instrument_type`` this server does not know (or OTHER)
    with an OSI option symbol, valued as option contracts rather than understated a hundredfold."""
    return position.instrument_type not in _KNOWN_TYPES and try_parse_osi(position.symbol) is not None
