"""Find the position an ``instrument_id`` argument names. Pure, no I/O.

The argument may be an instrument UUID (any case), a ticker (any case) or an OSI option symbol in
any of its renderings (padded, one space, compact); tickers and OSI symbols are compared with
:func:`~positions_mcp.domain.osi.symbol_key`, so ``aapl 280121c00195000`` finds
``AAPL  280121C00195000``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from ..clearstreet.models import Position
from .osi import symbol_key, try_parse_osi


class ResolveCode(StrEnum):
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    AMBIGUOUS_INSTRUMENT = "AMBIGUOUS_INSTRUMENT"


class ResolveError(ValueError):
    """The argument names no position of the account, or more than one. ``str()`` says what to do."""

    def __init__(self, code: ResolveCode, message: str, candidates: tuple[str, ...] = ()) -> None:
        self.code = code
        self.message = message
        self.candidates = candidates
        super().__init__(message)


def display_symbol(symbol: str) -> str:
    """Readable rendering: OSI symbols with one space (``AAPL 280121C00195000``), tickers as is."""
    option = try_parse_osi(symbol)
    return option.spaced() if option is not None else symbol.strip()


def matches(position: Position, text: str) -> bool:
    key = symbol_key(text)
    return bool(key) and (position.instrument_id.strip().upper() == key or symbol_key(position.symbol) == key)


def resolve_position(positions: Iterable[Position], text: str, account_id: int | None = None) -> Position:
    """The one position ``text`` names. Raises :class:`ResolveError` when none or several do."""
    where = f"account {account_id}" if account_id is not None else "the account"
    if not isinstance(text, str) or not text.strip():
        raise ResolveError(
            ResolveCode.UNKNOWN_INSTRUMENT,
            "No instrument given: pass an instrument UUID, a ticker (e.g. 'AAPL') or an OSI option "
            "symbol (e.g. 'AAPL  280121C00195000').",
        )
    held = list(positions)
    found = [p for p in held if matches(p, text)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        ids = tuple(p.instrument_id for p in found)
        raise ResolveError(
            ResolveCode.AMBIGUOUS_INSTRUMENT,
            f"{text.strip()!r} matches {len(found)} positions of {where} "
            f"({', '.join(f'{display_symbol(p.symbol)} = {p.instrument_id}' for p in found)}): "
            "pass the instrument UUID of the one you mean.",
            ids,
        )
    hint = ""
    key = symbol_key(text)
    if try_parse_osi(text) is None:
        options = [
            display_symbol(p.symbol) for p in held if (o := try_parse_osi(p.symbol)) is not None and o.root == key
        ]
        if options:
            shown = ", ".join(sorted(options)[:5]) + (" …" if len(options) > 5 else "")
            hint = f" It holds options on {key}: {shown}; pass the OSI symbol of the contract."
    raise ResolveError(
        ResolveCode.UNKNOWN_INSTRUMENT,
        f"No position of {where} matches {text.strip()!r}.{hint} Call get_positions to see what "
        "the account holds, then pass an instrument UUID, a ticker or an OSI option symbol from it.",
    )


def underlier_key(position: Position) -> str:
    """The key under which a position counts toward an underlier: the underlier's instrument id
    for an option (``root:<OSI root>`` when the API gave none), its own id for anything else."""
    if position.underlying_instrument_id:
        return position.underlying_instrument_id.strip().lower()
    option = try_parse_osi(position.symbol)
    if option is not None and position.instrument_type != "COMMON_STOCK":
        return f"root:{option.root}"
    return position.instrument_id.strip().lower()


def underlier_keys(positions: Iterable[Position], text: str) -> set[str]:
    """The underlier keys ``text`` names among ``positions``: an instrument UUID (the underlier's,
    or a held contract's), a ticker, or an OSI root (``SPXW`` names the SPXW contracts' underlier).
    Empty when nothing matches."""
    key = symbol_key(text)
    if not key:
        return set()
    found: set[str] = set()
    for position in positions:
        option = try_parse_osi(position.symbol)
        names = {position.instrument_id.strip().upper()}
        if option is not None:
            names |= {option.root, (position.underlying_instrument_id or "").strip().upper()}
        else:
            names.add(symbol_key(position.symbol))
        if key in names:
            found.add(underlier_key(position))
    return found
