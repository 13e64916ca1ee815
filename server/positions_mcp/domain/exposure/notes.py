"""The summary's notes: what was missing or odd, as counts with a few examples.

What qualifies the headline totals comes first, then the delta, greeks and funds figures, then the
rows that were odd: the size budget (:mod:`.budget`) cuts notes from the end.
"""

from __future__ import annotations

from ..examples import EXAMPLES, Examples
from ..market_view import MarketView
from ..text import counted
from .delta import DeltaFigures
from .option_fold import OptionFold
from .option_greeks import Coverage
from .shown import cut, for_example
from .totals import PNL_FIELDS, TYPE_LIMIT, BookTotals

__all__ = ["notes"]


def notes(
    totals: BookTotals,
    options: OptionFold,
    coverage: Coverage,
    d: DeltaFigures,
    view: MarketView | None,
    market_notes: list[str] | None,
    instructions_unread: str | None,
) -> list[str]:
    """Every note, in the order a cut should keep them. ``market_notes``: the market views' notes,
    None when no market view was given at all."""
    found: list[str] = []
    if instructions_unread is not None and options.expiring:  # first: it qualifies at_expiry, kept when cut
        found.append(f"{instructions_unread}: what expiry settles assumes no instruction in force")
    found += _pnl_notes(totals)
    found += _market_notes(options, coverage, d, view, market_notes)
    found += _row_notes(totals, options)
    return found


def _tallied(hits: Examples, one: str, many: str, text: str) -> list[str]:
    """``text`` with ``{n}`` the count and its noun and ``{e}`` the examples, when anything was counted."""
    return [text.format(n=counted(hits.count, one, many), e=for_example(hits.examples))] if hits else []


def _pnl_notes(totals: BookTotals) -> list[str]:
    """The P&L fields missing on the same rows share one note."""
    rows = totals.rows
    missing_pnl: dict[int, list[str]] = {}
    for name, missing in zip(PNL_FIELDS, totals.pnl_missing, strict=True):
        if missing:
            missing_pnl.setdefault(missing, []).append(name)
    found = []
    for missing, names in missing_pnl.items():
        fields = ", ".join(names)
        if rows and missing == rows:
            found.append(f"{fields} missing on every position: {'total' if len(names) == 1 else 'totals'} omitted")
        else:
            found.append(
                f"{fields} missing on {counted(missing, 'position', 'positions')}: "
                f"{'the total excludes' if len(names) == 1 else 'their totals exclude'} "
                f"{'it' if missing == 1 else 'them'}"
            )
    return found


def _market_notes(
    options: OptionFold, coverage: Coverage, d: DeltaFigures, view: MarketView | None, market_notes: list[str] | None
) -> list[str]:
    """What the market data (or its absence) leaves out of the delta, greeks and funds figures."""
    viewed = market_notes is not None
    found: list[str] = []
    if market_notes is None:
        if d.count:
            parts = ["no greeks: option delta unavailable", "contract terms assumed standard"] if options.n else []
            found.append("; ".join(["no market data: prices from the positions", *parts, "no balances"]))
    else:
        found += market_notes
    if viewed and options.n:
        found += _tallied(coverage.no_greeks, "option", "options", "no greeks for {n}{e}: left out of delta and greeks")
    found += _tallied(
        d.unpriced, "underlier", "underliers", "no price for {n}: delta dollars, notional and moneyness omitted{e}"
    )
    found += _tallied(d.from_close, "underlier", "underliers", "{n} priced at a previous close{e}")
    found += _tallied(
        coverage.adjusted,
        "adjusted option",
        "adjusted options",
        "no contract terms for {n} (root ending in a digit): deliverable unknown, left out of delta, notional and "
        "expiry cash{e}",
    )
    found += _tallied(
        coverage.unconfirmed,
        "adjusted option",
        "adjusted options",
        "deliverable not confirmed for {n}{e}: left out of delta, notional and expiry cash",
    )
    if viewed:
        found += _tallied(
            coverage.assumed_terms,
            "option",
            "options",
            "no contract terms for {n}: multiplier from the standard default (domain.contracts){e}",
        )
    if viewed and (view is None or view.funds is None):
        found.append("no balances: cash and buying power unknown")
    if coverage.first is not None and coverage.last is not None and coverage.first != coverage.last:
        found.append(f"greeks computed from {coverage.first.isoformat()} to {coverage.last.isoformat()}")
    return found


def _row_notes(totals: BookTotals, options: OptionFold) -> list[str]:
    """The rows that were odd: another account's, read twice, of an unknown type, incomplete."""
    found: list[str] = []
    if totals.foreign:
        found.append(
            f"{counted(totals.foreign, 'position belongs', 'positions belong')} to another account "
            f"than {totals.account_id}: included in the totals"
        )
    found += _tallied(
        totals.dupes,
        "instrument_id was",
        "instrument_ids were",
        "{n} read more than once (book changed while paging?): counted each time{e}",
    )
    unknown = sorted(totals.unknown_types.items(), key=lambda kv: (-kv[1], kv[0]))
    for (kind, as_option), count in unknown[:EXAMPLES]:
        how = "counted as options (OSI symbol)" if as_option else "counted as non-option exposure"
        found.append(
            f"{counted(count, 'position has', 'positions have')} an unknown instrument_type {cut(kind)!r}: {how}"
        )
    if len(unknown) > EXAMPLES:
        found.append(f"{len(unknown) - EXAMPLES} more unknown instrument_types")
    if len(totals.types) > TYPE_LIMIT:
        found.append(f"by_type lists the {TYPE_LIMIT} largest of {len(totals.types)} instrument types")
    has, have = "position has", "positions have"
    found += _tallied(totals.no_price, has, have, "{n} no instrument_price{e}")
    found += _tallied(
        options.bad_osi,
        "option symbol",
        "option symbols",
        "{n} could not be parsed as OSI: no expiry, strike or right for them{e}",
    )
    found += _tallied(
        options.no_underlier_id,
        "option has",
        "options have",
        "{n} no underlying_instrument_id: grouped by OSI root, no underlier price{e}",
    )
    found += _tallied(options.expired, "option is", "options are", "{n} past expiration but still listed{e}")
    found += _tallied(totals.flat, has, have, "{n} quantity 0{e}")
    found += _tallied(
        totals.sign_mismatch,
        has,
        have,
        "{n} a market_value whose sign disagrees with quantity: counted with the quantity's sign{e}",
    )
    found += _tallied(
        totals.type_mismatch, has, have, "{n} a position_type that disagrees with the quantity sign: quantity used{e}"
    )
    return found
