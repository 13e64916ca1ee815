"""The book by underlier: the shares held (non-option rows, at delta 1 a unit), the options'
underliers, the quotes of them the pages' market views gave, and from those an underlier's price and
name (package docstring: **Underlier**, **Underlier price**).

What is kept is one tuple of plain values per underlier (the collector stops tracking them).
"""

from __future__ import annotations

from decimal import Decimal

from ...clearstreet.models import Position
from ..contracts import underlier_of_root
from ..market_view import MarketView, Quote
from ..settlement import free_shares
from .exact import ZERO
from .shown import cut

__all__ = ["CLOSE", "POSITION", "SNAPSHOT", "Underliers", "current", "key_of"]

SNAPSHOT, POSITION, CLOSE = "snapshot", "position", "previous close"
"""Where an underlier's price comes from."""

# A non-option row's underlier (itself): (symbol, shares, price, price is a closing price, id as written,
# shares free to deliver: settlement.free_shares).
_Held = tuple[str, Decimal, Decimal | None, bool, str, Decimal]
# An option's underlier: (its instrument id as written or None, a name: the OSI root, or the symbol,
# its key: the one string object the rows of this underlier share).
_OfOptions = tuple[str | None, str | None, str]
# An underlier as the market view of an add() saw it: (current price, previous close, symbol).
_Quoted = tuple[Decimal | None, Decimal | None, str | None]


def key_of(identifier: str) -> str:
    """The key of an instrument id (:func:`..resolve.underlier_key`: trimmed, lower case), reusing
    the string itself when it already is one (nothing new is kept per row)."""
    key = identifier.strip().lower()
    return identifier if key == identifier else key


def current(quote: Quote | None) -> Decimal | None:
    """A quote's current price: the last trade, else the midpoint (Clear Street's API documentation)."""
    if quote is None:
        return None
    return quote.last if quote.last is not None else quote.midpoint


class Underliers:
    """The underliers of the book, by key (:func:`..resolve.underlier_key`)."""

    __slots__ = ("held", "of_options", "quoted")

    def __init__(self) -> None:
        self.held: dict[str, _Held] = {}
        self.of_options: dict[str, _OfOptions] = {}
        self.quoted: dict[str, _Quoted] = {}

    def hold(self, p: Position, quantity: Decimal) -> None:
        """A non-option row: it counts toward its underlier (itself) at delta 1. Shares of one
        underlier add up; a current price beats a close; a row of another instrument (one with an
        underlying id) does not price the underlier."""
        uid = p.underlying_instrument_id
        key = key_of(uid) if uid else key_of(p.instrument_id)
        price, from_close = p.instrument_price, False
        if price is None:
            price, from_close = p.closing_price, True
        if uid:
            price = None
        free = ZERO if uid or quantity <= 0 else free_shares(p)
        held = self.held.get(key)
        if held is None:
            self.held[key] = (p.symbol, quantity, price, from_close, uid or p.instrument_id, free)
            return
        symbol, shares, old_price, old_close, ref, old_free = held
        if old_price is not None and (price is None or from_close or not old_close):
            price, from_close = old_price, old_close
        self.held[key] = (symbol, shares + quantity, price, from_close, ref, old_free + free)

    def of_option(self, uid: str | None, instrument_id: str, root: str | None, symbol: str) -> str:
        """The key of an option's underlier: its underlying id, else its OSI root (``root:<ROOT>``),
        else (not OSI either) its own id. The rows of one underlier share one key string."""
        key = key_of(uid) if uid else (f"root:{root}" if root is not None else key_of(instrument_id))
        known = self.of_options.get(key)
        if known is not None:
            key = known[2]
        if known is None or (known[1] is None and root is not None):
            # the name to show when nothing better is known: the OSI root (an adjusted one names
            # its underlier without the digit), else (no underlier id either) the option's own symbol
            name = underlier_of_root(root) if root is not None else None if uid else symbol
            self.of_options[key] = (uid or None, name, key)
        return key

    def saw(self, key: str, uid: str | None, view: MarketView) -> None:
        """What the market view of an add() says about an option's underlier, kept for build."""
        if uid and key not in self.quoted and view.quotes:
            quote = view.quotes.get(uid)
            if quote is not None:
                self.quoted[key] = (current(quote), quote.previous_close, quote.symbol)

    def in_order(self) -> list[str]:
        """Every underlier: the held ones first, in the order added, then the options' others."""
        return [*self.held, *(key for key in self.of_options if key not in self.held)]

    def shares(self, key: str) -> Decimal:
        """Shares held now (signed)."""
        held = self.held.get(key)
        return held[1] if held is not None else ZERO

    def free(self, key: str) -> Decimal:
        """Shares free to deliver (:func:`..settlement.free_shares`)."""
        held = self.held.get(key)
        return held[5] if held is not None else ZERO

    def unpriced_ids(self) -> list[str]:
        """Instrument ids of the options' underliers this book prices at no current price: not
        held (SPY behind a SPY put), held without ``instrument_price``, or priced only by a close,
        and not quoted by a view yet. The snapshot prices them; a held underlier keeps the price the
        positions API gives it."""
        ids = []
        for key, (ref, _, _) in self.of_options.items():
            held = self.held.get(key)
            seen = self.quoted.get(key)
            if ref and (held is None or held[2] is None or held[3]) and (seen is None or seen[0] is None):
                ids.append(ref)
        return ids

    def price(self, key: str, view: MarketView | None) -> tuple[Decimal | None, str | None]:
        """An underlier's price and where it came from (package docstring: **Underlier price**)."""
        held = self.held.get(key)
        ref = held[4] if held is not None else self.of_options[key][0]
        quote = None
        if ref and view is not None and view.quotes:
            quote = view.quotes.get(ref)
            if quote is None:
                quote = view.quotes.get(key)
        now = current(quote)
        if now is not None:
            return now, SNAPSHOT
        seen = self.quoted.get(key)
        if seen is not None and seen[0] is not None:
            return seen[0], SNAPSHOT
        if held is not None and held[2] is not None and not held[3]:
            return held[2], POSITION
        if quote is not None and quote.previous_close is not None:
            return quote.previous_close, CLOSE
        if seen is not None and seen[1] is not None:
            return seen[1], CLOSE
        if held is not None and held[2] is not None:
            return held[2], CLOSE
        return None, None

    def label(self, key: str, view: MarketView | None) -> str:
        """An underlier's name: the held symbol, else the snapshot's, else the options' root; cut
        to 32 characters (:func:`.shown.cut`)."""
        return cut(self._name(key, view))

    def _name(self, key: str, view: MarketView | None) -> str:
        held = self.held.get(key)
        if held is not None:
            return held[0]
        ref, root, _ = self.of_options.get(key, (None, None, key))
        quote = view.quotes.get(ref) if ref and view is not None and view.quotes else None
        if quote is not None and quote.symbol.strip():
            return quote.symbol.strip()
        seen = self.quoted.get(key)
        if seen is not None and seen[2] and seen[2].strip():
            return seen[2].strip()
        return root or key
