"""Which shock row applies to which underlier of the book: a row naming an underlier beats the row
naming none, whatever their order; among rows alike the later wins; a name matching nothing held is
refused (``UNKNOWN_UNDERLIER``), never silently a zero P&L."""

from __future__ import annotations

from collections import Counter

from ..examples import examples_text
from ..osi import symbol_key
from ..text import counted
from .request import ScenarioCode, ScenarioError, Shock
from .result import AppliedShock
from .underliers import UnderlierBook

__all__ = ["Assignment", "assign"]

HELD_SHOWN = 10
_TEXT_WIDTH = 40  # a caller's underlier text is echoed cut to this many characters

Assignment = tuple[dict[str, int], list[AppliedShock], list[str]]
"""``underlier key -> 1-based row`` for every shocked underlier, the rows as applied, notes."""


def assign(book: UnderlierBook, rows: list[Shock]) -> Assignment:
    """The row each underlier of ``book`` is shocked by, the rows as applied and what the notes say
    about them. Raises :class:`ScenarioError` (``UNKNOWN_UNDERLIER``) for a name nothing matches."""
    named, general, notes = _rows_by_name(book, rows)
    # A named row beats the row without underlier, whatever their order (the later of two alike wins).
    assigned: dict[str, int] = {}
    for key in book.underliers:
        row = named.get(key, general)
        if row is not None:
            assigned[key] = row
    counts = Counter(assigned.values())
    applied = [
        AppliedShock(
            underlier=None if shock.underlier is None else shock.underlier.strip()[:_TEXT_WIDTH],
            price_change_pct=shock.price_change_pct,
            volatility_change_pts=shock.volatility_change_pts,
            underliers=counts.get(number, 0),
        )
        for number, shock in enumerate(rows, start=1)
    ]
    if not book.underliers:
        notes.append("the account holds no stock, ETF or option: nothing to shock")
        return assigned, applied, notes
    return assigned, applied, notes + _unused_rows(applied, general) + _unshocked(book, assigned)


def _rows_by_name(book: UnderlierBook, rows: list[Shock]) -> tuple[dict[str, int], int | None, list[str]]:
    """``underlier key -> the last row naming it``, the last row naming none, and a note for each
    row naming none that a later one replaces."""
    named: dict[str, int] = {}
    general: int | None = None
    notes: list[str] = []
    for number, shock in enumerate(rows, start=1):
        if shock.underlier is None:
            if general is not None:
                notes.append(f"row {general} (every underlier) is replaced by row {number}")
            general = number
            continue
        keys = book.names.get(symbol_key(shock.underlier), set()) & book.underliers.keys()
        if not keys:
            raise _unknown_underlier(book, number, shock.underlier)
        for key in keys:
            named[key] = number
    return named, general, notes


def _unknown_underlier(book: UnderlierBook, number: int, underlier: str) -> ScenarioError:
    held = tuple(sorted({book.label(u) for u in book.underliers.values()}))
    shown = ", ".join(held[:HELD_SHOWN]) + (f" and {len(held) - HELD_SHOWN} more" if len(held) > HELD_SHOWN else "")
    return ScenarioError(
        ScenarioCode.UNKNOWN_UNDERLIER,
        f"Row {number}: the account holds no stock or option whose underlier is "
        f"{underlier.strip()[:_TEXT_WIDTH]!r}. "
        + (f"Underliers held: {shown}. " if held else "It holds no stock or option. ")
        + "Pass an instrument UUID, a ticker or an OSI root of one of them, or omit "
        "underlying_instrument_id to shock every underlier.",
        held,
    )


def _unused_rows(applied: list[AppliedShock], general: int | None) -> list[str]:
    """A note for each row that names an underlier, or is the last naming none, and applies to none."""
    return [
        f"row {number} ({shock_row.underlier or 'every other underlier'}) applies to no underlier: "
        "later or named rows override it"
        for number, shock_row in enumerate(applied, start=1)
        if shock_row.underliers == 0 and (shock_row.underlier is not None or number == general)
    ]


def _unshocked(book: UnderlierBook, assigned: dict[str, int]) -> list[str]:
    unshocked = [book.label(u) for key, u in book.underliers.items() if key not in assigned]
    if not unshocked:
        return []
    return [
        f"{counted(len(unshocked), 'underlier is', 'underliers are')} not shocked (no row names them, "
        f"no row without underlier){examples_text(sorted(unshocked), len(unshocked))}"
    ]
