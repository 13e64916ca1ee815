"""The book's totals as its rows are added: positions, market value by side and instrument type,
cash, P&L, the largest positions, and the rows that are odd (package docstring: **Side**, **Market
value**, **CASH**, **P&L totals**).

Each row costs O(1) plain-Python work and leaves behind its id in the set that catches repeats; a
quantity is kept once per distinct Decimal (:meth:`BookTotals.pooled`).
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Any

from ...clearstreet.models import Position, PositionType, SecurityType
from ..examples import Examples
from ..numbers import percent
from .exact import EXACT, ZERO
from .shown import cut
from .summary import Concentration, LargestRow, LargestTable, TypeExposure

__all__ = ["PNL_FIELDS", "TYPE_LIMIT", "BookTotals"]

TYPE_LIMIT = 8  # at most this many instrument types in the breakdown
PNL_FIELDS = ("unrealized_pnl", "daily_unrealized_pnl", "daily_realized_pnl")
_POOL_LIMIT = 4096  # distinct quantities shared per summary (memory only)
_LONG_TYPES = frozenset({PositionType.LONG, PositionType.LONG_CALL, PositionType.LONG_PUT})
_SHORT_TYPES = frozenset({PositionType.SHORT, PositionType.SHORT_CALL, PositionType.SHORT_PUT})


class BookTotals:
    """What every row adds to the headline figures, and the odd rows, counted for the notes."""

    def __init__(self, account_id: int, largest: int) -> None:
        self.account_id = account_id
        self.rows = 0
        self.long_n = self.short_n = 0
        self.long = self.short = self.gross = ZERO
        self.cash: Decimal | None = None
        self.pnl = [ZERO, ZERO, ZERO]  # the PNL_FIELDS, summed
        self.pnl_missing = [0, 0, 0]  # rows without each of the PNL_FIELDS
        self.types: dict[str, list[Any]] = {}  # type -> [positions, long, short, gross]
        # min-heap of the largest |market_value|: (size, -row number, symbol, quantity, market value)
        self._heap: list[tuple[Decimal, int, str, Decimal, Decimal]] = []
        self._heap_size = max(largest, 5)  # the concentration needs the five largest
        self._seen: set[str] = set()
        self._quantities: dict[Decimal, Decimal] = {}
        self.foreign = 0
        self.unknown_types: dict[tuple[str, bool], int] = {}  # (type, counted as an option) -> rows
        self.dupes = Examples()
        self.no_price = Examples()
        self.flat = Examples()
        self.sign_mismatch = Examples()
        self.type_mismatch = Examples()

    def add(self, p: Position) -> tuple[Decimal, Decimal] | None:
        """Count one row (exact: the caller holds a MAX_PREC context). A CASH row counts in the
        positions and the P&L only: None. Any other row: its quantity (:meth:`pooled`) and its
        market value with the quantity's sign."""
        self.rows += 1
        if p.instrument_id in self._seen:
            self.dupes.hit(p.symbol)
        else:
            self._seen.add(p.instrument_id)
        if p.account_id != self.account_id:
            self.foreign += 1
        pnl, missing = self.pnl, self.pnl_missing
        if p.unrealized_pnl is None:
            missing[0] += 1
        else:
            pnl[0] += p.unrealized_pnl
        if p.daily_unrealized_pnl is None:
            missing[1] += 1
        else:
            pnl[1] += p.daily_unrealized_pnl
        if p.daily_realized_pnl is None:
            missing[2] += 1
        else:
            pnl[2] += p.daily_realized_pnl
        mv = p.market_value
        if p.instrument_type is SecurityType.CASH:
            self.cash = mv if self.cash is None else self.cash + mv
            return None
        quantity = self.pooled(p.quantity)
        size = abs(mv)
        self.gross += size
        signed = self._side(p, quantity, mv, size)
        # Min-heap of the largest |market_value|; on ties the earlier row stays.
        heap = self._heap
        if len(heap) < self._heap_size:
            heapq.heappush(heap, (size, -self.rows, p.symbol, quantity, mv))
        elif self._heap_size and size > heap[0][0]:
            heapq.heapreplace(heap, (size, -self.rows, p.symbol, quantity, mv))
        if p.instrument_price is None:
            self.no_price.hit(p.symbol)
        return quantity, signed

    def _side(self, p: Position, quantity: Decimal, mv: Decimal, size: Decimal) -> Decimal:
        """File a row long or short by the sign of its quantity (a row of quantity 0 by the sign of
        its value, so that long + short = net always); a value of the other sign is counted with the
        quantity's, and noted, as is a position_type that disagrees."""
        bucket = self.types.get(p.instrument_type)
        if bucket is None:
            bucket = self.types[p.instrument_type] = [0, ZERO, ZERO, ZERO]
        bucket[0] += 1
        bucket[3] += size
        if quantity > 0:
            if mv < 0:
                self.sign_mismatch.hit(p.symbol)
                mv = size
            self.long_n += 1
            if p.position_type in _SHORT_TYPES:
                self.type_mismatch.hit(p.symbol)
        elif quantity < 0:
            if mv > 0:
                self.sign_mismatch.hit(p.symbol)
                mv = -size
            self.short_n += 1
            if p.position_type in _LONG_TYPES:
                self.type_mismatch.hit(p.symbol)
        else:
            self.flat.hit(p.symbol)
        if quantity > 0 or (quantity == 0 and mv > 0):
            self.long += mv
            bucket[1] += mv
        else:
            self.short += mv
            bucket[2] += mv
        return mv

    def pooled(self, quantity: Decimal) -> Decimal:
        """``quantity``, or an earlier row's Decimal of the very same digits and exponent (``10``
        and ``10.0`` are kept apart: ``compare_total`` tells them apart where ``==`` does not): a
        large book stores one object per distinct quantity, not one per row (the memory budget
        bench/bench_exposure.py measures)."""
        known = self._quantities.get(quantity)
        if known is None:
            if len(self._quantities) < _POOL_LIMIT:
                self._quantities[quantity] = quantity
            return quantity
        return quantity if known.compare_total(quantity) else known

    def unknown_type(self, kind: str, as_option: bool) -> None:
        """A row of an instrument type this server does not know, counted as an option or not."""
        tag = (str(kind), as_option)
        self.unknown_types[tag] = self.unknown_types.get(tag, 0) + 1

    def pnl_totals(self) -> list[Decimal | None]:
        """The PNL_FIELDS' totals; None where no row of a non-empty book reports the field."""
        rows = self.rows
        return [
            None if rows and missing == rows else total
            for total, missing in zip(self.pnl, self.pnl_missing, strict=True)
        ]

    def by_type(self) -> list[TypeExposure]:
        """The largest TYPE_LIMIT instrument types by gross market value."""
        ranked = sorted(self.types.items(), key=lambda item: (-item[1][3], str(item[0])))
        return [
            TypeExposure(type=str(kind), positions=n, long=long, short=short, gross_pct=percent(size, self.gross))
            for kind, (n, long, short, size) in ranked[:TYPE_LIMIT]
        ]

    def largest(self, top_n: int) -> tuple[LargestTable, Concentration]:
        """The ``top_n`` largest positions by |market_value| and the concentration of market value."""
        gross = self.gross
        ranked = sorted(self._heap, reverse=True)
        table = LargestTable(
            rows=[
                LargestRow(cut(symbol), quantity, value, percent(size, gross))
                for size, _, symbol, quantity, value in ranked[:top_n]
            ]
        )
        top5 = ZERO
        for size, *_ in ranked[:5]:
            top5 = EXACT.add(top5, size)
        concentration = Concentration(
            largest=cut(ranked[0][2]) if ranked else None,
            largest_pct=percent(ranked[0][0], gross) if ranked else None,
            top5_pct=percent(top5, gross) if ranked else None,
        )
        return table, concentration
