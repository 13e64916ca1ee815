"""Rules 1-5a: each requested row on its own, in this order, stopping at the first failure.

1. the quantity is a positive whole number of contracts (INVALID_QUANTITY);
2. the key is unique in the batch and the account (:mod:`.idempotency`);
3. the instrument is a position of the account (UNKNOWN_INSTRUMENT / AMBIGUOUS_INSTRUMENT; an OSI
   symbol the account does not hold is INSUFFICIENT_POSITION, available 0, as the API would);
4. it is an option (NOT_AN_OPTION);
5. the position is long (NOT_LONG): a short is assigned, not exercised;
5a. its contract terms are readable (CONTRACT_TERMS_UNUSABLE): this server's rule, what a row
   delivers is stated before anyone approves it (:mod:`..contracts`).
"""

from __future__ import annotations

from decimal import Decimal

from ...clearstreet.models import Position
from ..closing import is_option
from ..osi import OptionSymbol, try_parse_osi
from ..resolve import ResolveCode, ResolveError, resolve_position
from ..text import qty
from .idempotency import BatchKeys
from .instruction_plan import InstructionCode
from .plan_inputs import PlanInputs
from .plan_row import Blocked, PlanRow

__all__ = ["check_row"]


def check_row(inputs: PlanInputs, keys: BatchKeys, row: PlanRow) -> None:
    """Rules 1-5a on ``row``: sets ``row.blocked`` at the first failure, ``row.already`` for a
    repeat; else resolves the row's position, symbol and terms."""
    try:
        _quantity(row.request.quantity)
        earlier = keys.holder(row.key)
        row.position, row.symbol = _resolve(inputs, row.request.instrument_id)
        if earlier is not None:
            keys.repeat(row, earlier, row.position)
            return
        _long(row.position, row.symbol)
    except Blocked as blocked:
        row.blocked = blocked
        return
    keys.take(row.key)
    row.terms = inputs.terms(row.position)
    row.blocked = _terms_unusable(row)


def _quantity(quantity: Decimal) -> None:
    if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
        raise Blocked(
            InstructionCode.INVALID_QUANTITY,
            f"Quantity {quantity} is not a positive whole number of contracts.",
        )


def _resolve(inputs: PlanInputs, text: str) -> tuple[Position, OptionSymbol]:
    try:
        position = resolve_position(inputs.positions, text)
    except ResolveError as exc:
        option = try_parse_osi(text)
        if option is not None and exc.code is ResolveCode.UNKNOWN_INSTRUMENT:
            raise Blocked(
                InstructionCode.INSUFFICIENT_POSITION,
                f"The account holds no {option.spaced()} contracts (available 0).",
                available="0",
            ) from None
        code = (
            InstructionCode.AMBIGUOUS_INSTRUMENT
            if exc.code is ResolveCode.AMBIGUOUS_INSTRUMENT
            else InstructionCode.UNKNOWN_INSTRUMENT
        )
        raise Blocked(code, exc.message) from None
    symbol = try_parse_osi(position.symbol)
    if not is_option(position):
        raise Blocked(
            InstructionCode.NOT_AN_OPTION,
            f"{position.symbol} is a {position.instrument_type} position, not an option: only "
            "option contracts can be exercised; pass the contract's OSI symbol.",
        )
    if symbol is None:
        raise Blocked(
            InstructionCode.UNKNOWN_INSTRUMENT,
            f"Cannot read expiry and strike from the option symbol {position.symbol!r}.",
        )
    return position, symbol


def _long(position: Position, symbol: OptionSymbol) -> None:
    if position.quantity <= 0:
        raise Blocked(
            InstructionCode.NOT_LONG,
            f"The account is short {qty(abs(position.quantity))} {symbol.spaced()}: only a long "
            "option can be exercised or instructed (a short is assigned, not exercised).",
        )


def _terms_unusable(row: PlanRow) -> Blocked | None:
    """Rule 5a: what the row delivers or gives up cannot be stated, so it is not approvable."""
    symbol, terms = row.symbol, row.terms
    assert symbol is not None and terms is not None
    if terms.problem:
        return Blocked(
            InstructionCode.CONTRACT_TERMS_UNUSABLE,
            f"The terms of {symbol.spaced()} cannot be read: {terms.problem}. What this instruction "
            "delivers or gives up cannot be stated, so it is not sent; ask Clear Street to correct the "
            "contract's reference data.",
        )
    if not terms.deliverable_confirmed:  # contracts.py: an adjustment may change the deliverable
        return Blocked(
            InstructionCode.CONTRACT_TERMS_UNUSABLE,
            f"The deliverable of {symbol.spaced()} is not confirmed: an adjusted contract (its root ends in "
            "a digit) and the option-contracts endpoint gives no deliverable, so the shares a contract "
            f"delivers are not assumed from its multiplier of {qty(terms.multiplier)}. What this "
            "instruction delivers or gives up cannot be stated, so it is not sent; ask Clear Street's desk "
            "what the contract delivers.",
        )
    return None
