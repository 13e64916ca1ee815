"""What a scenario returns: the result's tables (per underlier, totals, the method and the rows as
applied) as they go on the wire, with what each figure is."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, Field

from ..numbers import DecimalString
from ..result_model import CompactResult

__all__ = [
    "NOT_MODELLED",
    "AppliedShock",
    "ScenarioMethod",
    "ScenarioResult",
    "ScenarioTotals",
    "UnderlierScenario",
]

_ZERO = Decimal(0)

NOT_MODELLED = (
    "dividends",
    "early exercise (American valued as European)",
    "rate moves",
    "time decay",
    "skew (parallel volatility shift)",
)


class AppliedShock(CompactResult):
    underlier: str | None = Field(None, description="The underlier the row names, as given; absent: every other one.")
    price_change_pct: DecimalString = Field(description="Underlier price change, percent (−20 = × 0.80).")
    volatility_change_pts: DecimalString = Field(description="Added to each implied volatility, points (+5 = +0.05).")
    underliers: int = Field(description="Underliers of the book this row was applied to (0: overridden).")


class ScenarioMethod(CompactResult):
    model: str = "Black-Scholes-Merton, European; each option fully revalued"
    rate: DecimalString = Field(description="Risk-free rate, annual, continuously compounded; not shocked.")
    dividends: DecimalString = Field(_ZERO, description="Dividend yield assumed (none).")
    time_to_expiry: str = (
        "ACT/365 from as_of to 16:00 ET (13:00 on an early close; 09:30 if AM-settled) on the expiration "
        "business day; unchanged by the shock"
    )
    volatility: str = (
        "implied from each option's price, + volatility_change_pts / 100, floored at 1 %; "
        "an option priced at or below its lower bound (no volatility fits) moves with its intrinsic value"
    )
    delta: str = "this model's, not the API's greeks"
    prices: str = "instrument_price, else snapshot (spot: last, mid; option: mid, last), else closing price"
    not_modelled: tuple[str, ...] = NOT_MODELLED
    shocks: list[AppliedShock] = Field(description="The rows given, in order (row 1 first), and what each applied to.")


class UnderlierScenario(CompactResult):
    underlier: str = Field(description="Ticker of the underlier (the OSI root when nothing else names it).")
    shock_row: int = Field(description="The row of method.shocks applied to it.")
    spot: DecimalString | None = Field(None, description="Underlier price before the shock; absent when unknown.")
    shocked_spot: DecimalString | None = Field(None, description="Underlier price after the shock.")
    pnl: DecimalString = Field(
        description="P&L of the positions revalued, USD: stock quantity × (shocked − spot); options (new − "
        "current price) × contracts × multiplier; each position rounded to the cent."
    )
    options_pnl: DecimalString | None = Field(None, description="The options' part of pnl.")
    delta_shares_before: DecimalString | None = Field(
        None,
        description="Share-equivalent delta now: stock quantity + Σ contracts × multiplier × BSM delta "
        "(× deliverable / multiplier for an adjusted contract; index units for index options).",
    )
    delta_shares_after: DecimalString | None = Field(None, description="Share-equivalent delta after the shock.")
    delta_dollars_before: DecimalString | None = Field(None, description="delta_shares_before × spot, USD.")
    delta_dollars_after: DecimalString | None = Field(None, description="delta_shares_after × shocked_spot, USD.")
    options_revalued: int = 0
    options_at_intrinsic: int | None = Field(
        None, description="Of options_revalued: no implied volatility, moved with their intrinsic value (method)."
    )
    options_not_revalued: int | None = Field(None, description="Left out of pnl and delta (see left_out).")


class ScenarioTotals(CompactResult):
    pnl: DecimalString = Field(description="Σ P&L of every underlier (all, not only those listed), USD.")
    delta_dollars_before: DecimalString = Field(description="Σ delta_dollars_before of every underlier, USD.")
    delta_dollars_after: DecimalString = Field(description="Σ delta_dollars_after of every underlier, USD.")
    underliers: int = Field(description="Underliers shocked.")
    stock_positions: int = Field(description="Stock and ETF positions revalued.")
    options_revalued: int
    options_at_intrinsic: int = Field(
        description="Of options_revalued: no implied volatility, moved with their intrinsic value (method)."
    )
    options_not_revalued: int = Field(description="Options of shocked underliers left out (see left_out).")


class ScenarioResult(CompactResult):
    as_of: AwareDatetime
    environment: str
    account_id: int
    method: ScenarioMethod
    total: ScenarioTotals
    by_underlier: list[UnderlierScenario] = Field(description="The underliers with the largest |P&L|, largest first.")
    left_out: list[str] | None = Field(
        None, description="What is not in pnl and delta, by reason, with a count and examples: never cut."
    )
    notes: list[str] = Field(default_factory=list)
