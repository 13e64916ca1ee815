"""The exposure summary a tool returns (:class:`ExposureSummary`) and its parts. What each figure
is, is said in its field's description (the tool's output schema) and in the package docstring.

The two lists a person reads row by row (delta by underlier, expiring options) are tables: column
names once, then one JSON array per row. Fields that are None are left out of the serialised form,
so the JSON carries only what is known.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

from pydantic import AwareDatetime, Field

from ..expiry import DefaultAtExpiry
from ..numbers import DecimalString
from ..result_model import CompactResult

__all__ = [
    "EXPIRING_COLUMNS",
    "UNDERLIER_COLUMNS",
    "AccountFunds",
    "Concentration",
    "DeltaExposure",
    "ExpiringRow",
    "ExpiringTable",
    "ExpirySettlement",
    "ExpiryWatch",
    "ExposureSummary",
    "LargestRow",
    "LargestTable",
    "OptionsOverview",
    "TypeExposure",
    "UnderlierRow",
    "UnderlierTable",
]


class TypeExposure(CompactResult):
    type: str = Field(
        description="Instrument type: a SecurityType, or the raw string the upstream sent for an unknown one."
    )
    positions: int
    long: DecimalString = Field(description="Σ market_value of the long rows of this type (total).")
    short: DecimalString = Field(description="Σ market_value of the short rows of this type (total).")
    gross_pct: DecimalString | None = Field(None, description="Share of gross market value, in percent.")


class LargestRow(NamedTuple):
    """One position of :class:`LargestTable` (a JSON array on the wire; names in ``columns``)."""

    symbol: str
    quantity: Decimal
    market_value: Decimal
    gross_pct: Decimal | None


class LargestTable(CompactResult):
    """The largest positions by |market_value|: a table (column names once)."""

    columns: tuple[str, ...] = Field(
        LargestRow._fields,
        description="symbol; quantity: signed; market_value: as reported (an option's is its premium), "
        "total; gross_pct: |market_value| as a % of gross market value.",
    )
    rows: list[LargestRow] = Field(description="Largest first.")


class Concentration(CompactResult):
    largest: str | None = Field(None, description="Symbol of the largest position by |market_value|.")
    largest_pct: DecimalString | None = Field(
        None, description="Share of gross market value held by the largest position, in percent."
    )
    top5_pct: DecimalString | None = Field(
        None, description="Share of gross market value held by the five largest positions, in percent."
    )


class UnderlierRow(NamedTuple):
    """One underlier of :class:`UnderlierTable` (a JSON array on the wire; names in ``columns``)."""

    underlier: str
    price: DecimalString | None
    delta_shares: DecimalString
    delta_dollars: DecimalString | None
    gross_pct: DecimalString | None


class ExpiringRow(NamedTuple):
    """One expiring option position of :class:`ExpiringTable` (a JSON array on the wire)."""

    symbol: str
    contracts: DecimalString
    days_left: int
    moneyness: Literal["ITM", "ATM", "OTM"] | None
    distance_pct: DecimalString | None
    intrinsic_per_contract: DecimalString | None
    pin_risk: bool
    default_at_expiry: DefaultAtExpiry
    suggestion: str


UNDERLIER_COLUMNS: tuple[str, ...] = UnderlierRow._fields
"""The columns of :class:`UnderlierTable` rows, in order."""
EXPIRING_COLUMNS: tuple[str, ...] = ExpiringRow._fields
"""The columns of :class:`ExpiringTable` rows, in order."""


class UnderlierTable(CompactResult):
    """One row per underlier: a table (column names once), so a small book fits whole."""

    columns: tuple[str, ...] = Field(
        UNDERLIER_COLUMNS,
        description="underlier: symbol (held, named by the snapshot, or the options' OSI root); price: the "
        "underlier price the dollars use; delta_shares: net delta in share-equivalents, total (shares + Σ "
        "contracts × multiplier × API delta, to 0.01, contracts without greeks excluded); delta_dollars: "
        "delta_shares × price, total, to the cent; gross_pct: |delta_dollars| as a % of the gross.",
    )
    rows: list[UnderlierRow] = Field(description="By |delta_dollars|, largest first; unpriced ones last.")


class ExpiringTable(CompactResult):
    """One row per expiring option position: a table (column names once)."""

    columns: tuple[str, ...] = Field(
        EXPIRING_COLUMNS,
        description="symbol: OSI symbol; contracts: signed, < 0 written; days_left: business days to the "
        "expiration day (0 = today); moneyness: ITM/ATM/OTM at the underlier's price; distance_pct: "
        "signed distance from the strike, % of the strike, > 0 in the money; intrinsic_per_contract: "
        "value of exercising one contract now; pin_risk: within 1 % of the strike or $0.50 a share "
        "(physical delivery); default_at_expiry: what happens if nobody acts (OCC Rule 805(d)); "
        "suggestion: what can still be done, and by when.",
    )
    rows: list[ExpiringRow] = Field(description="By expiration day, the ones needing a decision first.")


class DeltaExposure(CompactResult):
    greeks_as_of: AwareDatetime | None = Field(
        None, description="Timestamp of the API's snapshot greeks used (the oldest, when they differ)."
    )
    net_dollars: DecimalString = Field(
        description="Net delta-adjusted exposure of the account, total: Σ underliers' delta_dollars."
    )
    gross_dollars: DecimalString = Field(
        description="Gross delta-adjusted exposure, total: Σ |delta_dollars| over the underliers."
    )
    gamma_dollars_per_1pct: DecimalString | None = Field(
        None,
        description="Dollar gamma, total: change of delta dollars when every underlier rises 1 % "
        "(Σ contracts × multiplier × gamma × price² / 100), from the API's greeks.",
    )
    vega_dollars_per_vol_point: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × vega: value change per volatility point (API's vega), total."
    )
    theta_dollars_per_day: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × theta: value change per trading day (API's theta), total."
    )
    top5_pct: DecimalString | None = Field(
        None,
        description="Share of gross_dollars held by the five largest underliers, in percent; present when "
        "by_underlier does not list them all.",
    )
    underliers: int = Field(description="Distinct underliers; by_underlier lists them (the largest when many).")
    contracts_without_greeks: dict[str, DecimalString] | None = Field(
        None,
        description="By underlier: contracts whose greeks are unavailable, left out of its delta and the greeks "
        "(the first underliers found, when many; options.contracts_without_greeks counts them all).",
    )
    by_underlier: UnderlierTable | None = Field(None, description="Left out when cut to fit (see notes).")


class OptionsOverview(CompactResult):
    positions: int
    long_contracts: DecimalString = Field(description="Long contracts over all underliers.")
    short_contracts: DecimalString = Field(description="Short contracts over all underliers (positive number).")
    premium: DecimalString = Field(description="Σ market_value of the option rows (written ones negative), total.")
    underlier_notional: DecimalString | None = Field(
        None, description="Σ |contracts| × multiplier × underlier price (priced underliers), total."
    )
    delta_dollars: DecimalString | None = Field(
        None, description="Σ contracts × multiplier × delta × underlier price of the options alone, total."
    )
    contracts_without_greeks: DecimalString | None = Field(
        None, description="Contracts whose greeks are unavailable: their delta is not estimated."
    )


class ExpirySettlement(CompactResult):
    cash_out: DecimalString = Field(
        description="Cash paid, total: long calls exercised and short puts likely assigned, "
        "contracts × multiplier × strike."
    )
    cash_in: DecimalString = Field(
        description="Cash received, total: long puts exercised and short calls likely assigned, "
        "contracts × multiplier × strike (short-sale proceeds included)."
    )
    cash_settled: DecimalString | None = Field(
        None, description="Cash-settled options: intrinsic × multiplier received (+) or paid (−), an estimate."
    )
    net_cash: DecimalString = Field(
        description="What cash_after counts, total: cash_in − short_sale_proceeds − cash_out, less a cash-settled "
        "payment at its estimate (a cash-settled receipt is not counted)."
    )
    cash_after: DecimalString | None = Field(
        None, description="funds.trade_cash + net_cash: the account's cash once these settle."
    )
    shares: dict[str, DecimalString] = Field(
        description="By underlier: shares received (> 0) or delivered (< 0), total (the largest moves when many)."
    )
    not_counted: int | None = Field(
        None,
        description="Expiring positions whose outcome is uncertain (ASSIGNMENT_POSSIBLE, UNKNOWN) or whose contract "
        "terms are unknown: not counted.",
    )
    short_sale_proceeds: DecimalString | None = Field(
        None,
        description="Part of cash_in raised by delivering shares the account does not have free (a short sale), "
        "total: collateral in a margin account, not cash; not in net_cash.",
    )
    instructed: int | None = Field(
        None,
        description="Instructions in force on these options, counted in the figures above; the suggestion of "
        "each row they cover names them (type, quantity, status, id).",
    )
    warning: str | None = Field(None, description="Present when the account's cash does not cover net_cash.")


class ExpiryWatch(CompactResult):
    window_business_days: int
    through: date = Field(description="Last expiration day inside the window.")
    count: int = Field(description="Option positions expiring inside the window; options lists them (or the first).")
    by_default: dict[str, int] | None = Field(
        None,
        description="How many of them do what by default (DefaultAtExpiry values); present when options does "
        "not list them all.",
    )
    pin_risk: int | None = Field(None, description="How many of them are at pin risk (within 1 % or $0.50).")
    options: ExpiringTable
    at_expiry: ExpirySettlement | None = Field(
        None,
        description="What expiry would pay, receive and deliver: the defaults (auto-exercise, likely assignment) "
        "as the instructions in force change them.",
    )


class AccountFunds(CompactResult):
    currency: str
    trade_cash: DecimalString = Field(description="Cash on a trade-date basis (balances).")
    buying_power: DecimalString = Field(description="Buying power now (balances).")
    overnight_buying_power: DecimalString | None = Field(
        None, description="Margin accounts: buying power for positions held overnight (balances)."
    )


class ExposureSummary(CompactResult):
    as_of: AwareDatetime
    environment: str
    account_id: int
    positions: int = Field(description="Rows read, over every page.")
    long_market_value: DecimalString
    short_market_value: DecimalString
    gross_market_value: DecimalString = Field(
        description="Σ |market_value| (CASH excluded): market value, not risk (an option counts its premium)."
    )
    net_market_value: DecimalString = Field(description="Σ market_value (CASH excluded).")
    long_positions: int = Field(description="Rows with quantity > 0 (CASH excluded).")
    short_positions: int = Field(description="Rows with quantity < 0.")
    cash: DecimalString | None = Field(
        None, description="Σ market_value of CASH rows, which are not part of the exposure figures."
    )
    unrealized_pnl: DecimalString | None = None
    daily_unrealized_pnl: DecimalString | None = None
    daily_realized_pnl: DecimalString | None = None
    by_type: list[TypeExposure] | None = Field(None, description="Left out when cut to fit (see notes).")
    largest: LargestTable | None = Field(
        None, description="Largest positions by |market_value|; left out when cut to fit (see notes)."
    )
    concentration: Concentration = Field(description="Concentration of market value.")
    delta: DeltaExposure | None = Field(
        None, description="Delta-adjusted exposure by underlier and the API's greeks in dollars."
    )
    options: OptionsOverview | None = None
    expiring: ExpiryWatch | None = None
    funds: AccountFunds | None = Field(None, description="Cash and buying power from the account's balances.")
    notes: list[str] = Field(description="Data-quality notes: what was missing or odd, as counts with a few examples.")
