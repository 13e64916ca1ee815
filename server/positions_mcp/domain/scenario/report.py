"""The result built from the underliers revalued: ranked by |P&L| (the underliers a row names
first when the list is cut), totals over all of them, what is left out and the notes, in words,
and the whole kept within its JSON size budget."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..examples import Examples, examples_text
from ..resolve import display_symbol
from ..text import counted
from .result import AppliedShock, ScenarioMethod, ScenarioResult, ScenarioTotals, UnderlierScenario
from .revaluation import MIN_VOLATILITY, UnderlierOutcome
from .underliers import UnderlierBook

__all__ = ["MAX_JSON_BYTES", "build_result", "fit"]

MAX_JSON_BYTES = 3000
"""Default budget of the result's compact JSON; lists are shortened (totals and counts kept)."""
LEFT_OUT_LINES = 10
_ZERO = Decimal(0)
_SYMBOL_WIDTH = 32  # an example's display symbol is cut to this many characters


def build_result(
    book: UnderlierBook,
    outcomes: list[UnderlierOutcome],
    applied: list[AppliedShock],
    row_notes: list[str],
    rate: Decimal,
    now: datetime,
    account_id: int,
    environment: str,
    top_n: int,
) -> ScenarioResult:
    """The result of ``outcomes``: the ``top_n`` largest |P&L| listed, totals over all of them."""
    ranked = sorted(outcomes, key=lambda o: (-abs(o.pnl), o.label))
    # the underliers a row names (what the person asked about) are listed whatever their size
    named = _named_rows(applied)
    kept = {id(o) for o in sorted(ranked, key=lambda o: o.row not in named)[: max(0, top_n)]}
    rows = [_underlier_row(o) for o in ranked if id(o) in kept]
    return ScenarioResult(
        as_of=now,
        environment=environment,
        account_id=account_id,
        method=ScenarioMethod(rate=rate, shocks=applied),
        total=_totals(outcomes),
        by_underlier=rows,
        left_out=_left_out(book) or None,
        notes=row_notes + _notes(book, len(outcomes), len(rows)),
    )


def _totals(outcomes: list[UnderlierOutcome]) -> ScenarioTotals:
    return ScenarioTotals(
        pnl=sum((o.pnl for o in outcomes), _ZERO),
        delta_dollars_before=sum((o.dollars_before or _ZERO for o in outcomes), _ZERO),
        delta_dollars_after=sum((o.dollars_after or _ZERO for o in outcomes), _ZERO),
        underliers=len(outcomes),
        stock_positions=sum(o.stocks_revalued for o in outcomes),
        options_revalued=sum(o.options_revalued for o in outcomes),
        options_at_intrinsic=sum(o.options_at_intrinsic for o in outcomes),
        options_not_revalued=sum(o.options_not_revalued for o in outcomes),
    )


def _underlier_row(o: UnderlierOutcome) -> UnderlierScenario:
    return UnderlierScenario(
        underlier=o.label,
        shock_row=o.row,
        spot=o.spot,
        shocked_spot=o.shocked_spot,
        pnl=o.pnl,
        options_pnl=o.options_pnl,
        delta_shares_before=o.shares_before,
        delta_shares_after=o.shares_after,
        delta_dollars_before=o.dollars_before,
        delta_dollars_after=o.dollars_after,
        options_revalued=o.options_revalued,
        options_at_intrinsic=o.options_at_intrinsic or None,
        options_not_revalued=o.options_not_revalued or None,
    )


def _named_rows(shocks: list[AppliedShock]) -> set[int]:
    """The 1-based numbers of the rows that name an underlier (what the person asked about)."""
    return {number for number, shock in enumerate(shocks, start=1) if shock.underlier is not None}


def _left_out(book: UnderlierBook) -> list[str]:
    """What is in no P&L and no delta, one line a reason, each with its count and first examples
    (at most :data:`LEFT_OUT_LINES` lines: the rest are counted on the last)."""
    lines = [
        f"{counted(hits.count, 'position', 'positions')} not revalued ({reason}): left out of P&L and "
        f"delta{_cited(hits)}"
        for reason, hits in sorted(book.skipped.items(), key=lambda item: (-item[1].count, item[0]))
    ]
    if book.bad_symbol.count:
        lines.append(
            f"{counted(book.bad_symbol.count, 'option has', 'options have')} no OSI symbol (no strike, "
            f"expiry or right): not revalued{_cited(book.bad_symbol)}"
        )
    for kind, hits in sorted(book.other_types.items(), key=lambda item: (-item[1].count, item[0])):
        lines.append(
            f"{counted(hits.count, 'position', 'positions')} of instrument_type {kind[:24]!r} not revalued{_cited(hits)}"
        )
    if len(lines) > LEFT_OUT_LINES:
        rest = len(lines) - LEFT_OUT_LINES + 1
        lines = [*lines[: LEFT_OUT_LINES - 1], f"and {rest} more reasons (other instrument types) not revalued"]
    return lines


def _cited(hits: Examples) -> str:
    """:func:`..examples.examples_text` of the positions counted, by their display symbols."""
    return examples_text([display_symbol(symbol)[:_SYMBOL_WIDTH] for symbol in hits.examples], hits.count)


def _notes(book: UnderlierBook, underliers: int, shown: int) -> list[str]:
    notes: list[str] = []
    if book.at_intrinsic.count:
        notes.append(
            f"{counted(book.at_intrinsic.count, 'option is', 'options are')} priced at or below the European "
            "lower bound (no implied volatility): moved with intrinsic value, not with Black-Scholes-Merton"
            f"{_cited(book.at_intrinsic)}"
        )
    if book.floored.count:
        notes.append(
            f"{counted(book.floored.count, 'option', 'options')}: the shock takes the implied volatility below "
            f"{MIN_VOLATILITY:.0%}, so {MIN_VOLATILITY:.0%} is used{_cited(book.floored)}"
        )
    if book.from_close.count:
        notes.append(
            f"{counted(book.from_close.count, 'option is', 'options are')} priced at the position's "
            f"closing_price (no current price): implied volatility from that close{_cited(book.from_close)}"
        )
    if book.spot_from_close:
        notes.append(
            f"{counted(len(book.spot_from_close), 'underlier is', 'underliers are')} priced at the "
            f"closing_price (no current price){examples_text(book.spot_from_close, len(book.spot_from_close))}"
        )
    if book.cash.count:
        notes.append(f"{counted(book.cash.count, 'cash position', 'cash positions')} not shocked")
    if shown < underliers:
        notes.append(f"by_underlier lists the {shown} largest |P&L| of {underliers} underliers")
    return notes


def _json_size(result: ScenarioResult) -> int:
    return len(result.model_dump_json().encode())


def fit(result: ScenarioResult, budget: int) -> ScenarioResult:
    """Shorten ``by_underlier`` (to one row), then the notes, then ``by_underlier`` to none, until
    the compact JSON fits ``budget``; totals, counts and the method stay whole. The underliers a row
    names (what the person asked about) go last."""
    if _json_size(result) <= budget:
        return result
    named = _named_rows(result.method.shocks)
    rows = sorted(
        result.by_underlier, key=lambda outcome: outcome.shock_row not in named
    )  # named first; cut from the tail
    order = {id(outcome): index for index, outcome in enumerate(result.by_underlier)}
    notes = list(result.notes)
    note_count = len(notes)

    def candidate() -> ScenarioResult:
        extra = [f"lists shortened to fit {budget} bytes (totals and counts are complete)"]
        if len(notes) < note_count:
            extra.append(f"{note_count - len(notes)} more notes left out")
        shown = sorted(rows, key=lambda outcome: order[id(outcome)])  # back in the result's order
        return result.model_copy(update={"by_underlier": shown, "notes": notes + extra})

    current = candidate()
    for items, floor in ((rows, 1), (notes, 0), (rows, 0)):
        while len(items) > floor and _json_size(current) > budget:
            items.pop()
            current = candidate()
    return current
