"""The one closing order a close plan makes for one position, and what it warns about. Pure, no I/O.

One MARKET DAY order a position, SELL to close a long and BUY to close a short (Clear Street's API
documentation), for what :func:`.quantity.close_quantity` says. Price: the quote's bid for a
sell or ask for a buy, else its last sale, else ``instrument_price``, else ``closing_price`` (the
order says which), else none (NO_PRICE). Notional = quantity × price × multiplier, rounded to the
cent; an option's multiplier comes from its :class:`..contracts.ContractTerms` (the given terms,
else :func:`..contracts.terms_for`'s fallbacks: 100), never a constant (Clear Street's market-data
API documentation). A row whose ``instrument_type`` the server does not know but whose symbol is an
OSI option symbol is an option (OPTION_BY_SYMBOL): its notional is not understated a hundredfold.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel

from ...clearstreet.models import OrderType, Position, Side, TimeInForce
from ..moneyness import PriceSource, best_price
from ..numbers import CENT, OPTION_MULTIPLIER, DecimalString
from ..resolve import display_symbol
from ..text import qty
from .context import CloseContext
from .expiring import last_trade_issues
from .issues import CloseCode, Issue
from .quantity import close_quantity
from .selection import is_option, option_by_symbol

__all__ = ["PlannedOrder", "plan_order"]


class PlannedOrder(BaseModel):
    symbol: str
    instrument_id: str
    instrument_type: str
    side: Side
    quantity: DecimalString
    position_quantity: DecimalString
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    estimated_price: DecimalString | None = None
    price_source: PriceSource | None = None
    multiplier: int = 1
    estimated_notional: DecimalString | None = None


def plan_order(
    position: Position, context: CloseContext, warnings: list[Issue], blocked: list[Issue]
) -> PlannedOrder | None:
    """The order that closes ``position`` (None when nothing of it can be sent); ``warnings`` and
    ``blocked`` get what it says about it. The terms it used are kept on ``context``."""
    if position.quantity == 0:
        return None
    option = is_option(position)
    terms = context.terms_of(position) if option else None
    if terms is not None:
        context.terms[position.instrument_id] = terms
    quantity = close_quantity(position, terms, context, warnings)
    if quantity == 0:
        return None
    multiplier = terms.multiplier if terms is not None else (OPTION_MULTIPLIER if option else Decimal(1))
    _multiplier_issues(position, option, multiplier, warnings, blocked)
    if option:
        last_trade_issues(position, terms, context, warnings, blocked)
    side = Side.SELL if position.quantity > 0 else Side.BUY
    price, source = _estimate(position, side, quantity, context, warnings)
    _tradability(position, side, context, warnings)
    notional = None
    if price is not None:
        notional = (quantity * price * multiplier).quantize(CENT, rounding=ROUND_HALF_EVEN)
    else:
        symbol = display_symbol(position.symbol)
        text = f"{symbol}: no current or closing price, so its notional is unknown."
        warnings.append(Issue(code=CloseCode.NO_PRICE, symbol=symbol, message=text))
    return PlannedOrder(
        symbol=position.symbol,
        instrument_id=position.instrument_id,
        instrument_type=str(position.instrument_type),
        side=side,
        quantity=quantity,
        position_quantity=position.quantity,
        estimated_price=price,
        price_source=source,
        multiplier=int(multiplier),
        estimated_notional=notional,
    )


def _multiplier_issues(
    position: Position, option: bool, multiplier: Decimal, warnings: list[Issue], blocked: list[Issue]
) -> None:
    """An order's quantity and multiplier are whole numbers: a contract whose multiplier is not is
    refused rather than valued on a guess; an option known only by its symbol says so."""
    symbol = display_symbol(position.symbol)
    if multiplier != multiplier.to_integral_value():
        blocked.append(
            Issue(
                code=CloseCode.MULTIPLIER_NOT_WHOLE,
                symbol=symbol,
                message=f"{symbol}: its contract multiplier {multiplier} is not a whole number; the close is "
                "refused rather than valued on a guess.",
            )
        )
    if option and option_by_symbol(position):
        warnings.append(
            Issue(
                code=CloseCode.OPTION_BY_SYMBOL,
                symbol=symbol,
                message=f"{symbol}: instrument_type {str(position.instrument_type)!r} is not one this server "
                f"knows, but the symbol is an OSI option symbol: valued as option contracts (× {qty(multiplier)}).",
            )
        )


def _estimate(
    position: Position, side: Side, quantity: Decimal, context: CloseContext, warnings: list[Issue]
) -> tuple[Decimal | None, PriceSource | None]:
    """The price a MARKET order is estimated at: the bid for a sell, the ask for a buy, when the
    snapshot has that side (Clear Street's market-data API documentation, close-price estimates); else the snapshot's
    last sale; else the position's own price. A top of book smaller than the order is flagged."""
    quote = context.market.quotes.get(position.instrument_id) if context.market is not None else None
    if quote is not None:
        selling = side is Side.SELL
        price = quote.bid if selling else quote.ask
        if price is not None and price > 0:
            size = quote.bid_size if selling else quote.ask_size
            if size is not None and size < quantity:
                symbol = display_symbol(position.symbol)
                best = "bid" if selling else "ask"
                warnings.append(
                    Issue(
                        code=CloseCode.TOP_OF_BOOK,
                        symbol=symbol,
                        message=f"{symbol}: the best {best} ({price}) shows a size of {size} against {qty(quantity)} to "
                        f"{'sell' if selling else 'buy'}: the MARKET order may fill further from the estimate.",
                    )
                )
            return price, PriceSource.BID if selling else PriceSource.ASK
        if quote.last is not None:
            return quote.last, PriceSource.LAST_TRADE
    return best_price(position)


def _tradability(position: Position, side: Side, context: CloseContext, warnings: list[Issue]) -> None:
    """Warnings from the instrument's flags (Clear Street's market-data API documentation): a close of something
    not tradable will be refused; liquidation-only means it cannot be bought (whether a buy that
    covers a short is exempt is not stated, so a buy-back is warned about)."""
    flags = context.market.tradability.get(position.instrument_id) if context.market is not None else None
    if flags is None:
        return
    tradable, liquidation_only = flags
    symbol = display_symbol(position.symbol)
    if not tradable:
        warnings.append(
            Issue(
                code=CloseCode.NOT_TRADABLE,
                symbol=symbol,
                message=f"{symbol}: Clear Street lists it as not tradable now; the closing order will likely be rejected.",
            )
        )
    elif liquidation_only and side is Side.BUY:
        warnings.append(
            Issue(
                code=CloseCode.LIQUIDATION_ONLY,
                symbol=symbol,
                message=f"{symbol}: it is liquidation-only (no buys); buying it back to close this short may be "
                "refused (whether a buy-to-cover is exempt is not stated).",
            )
        )
