"""Wire models of the balances, market-data, instrument, calendar and orders endpoints
(``clearstreet-market-data-and-accounts.md`` sections 2-8).

Same rules as :mod:`.models`: every money, price, rate, greek, strike and multiplier is a ``Decimal``
parsed from the decimal string the API sends (and serialised back to one); sizes, volumes and open
interest are ints; enumerations are open (an unknown value is kept as its string); unknown fields
are kept; a field the API may leave out or send as ``null`` defaults to None.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from .decimals import DecimalString
from .models import OpenSecurityType, WireModel, _described, _known

__all__ = [
    "AccountBalances",
    "AccountBalancesSod",
    "ClockDetail",
    "ContractType",
    "DayType",
    "ExerciseStyle",
    "Instrument",
    "ListingType",
    "MarginDetails",
    "MarginDetailsUsage",
    "MarginSessionDetails",
    "MarginTopContributor",
    "MarginType",
    "MarketDataSnapshot",
    "MarketHoursDetail",
    "MarketSessionType",
    "MarketStatus",
    "MarketType",
    "NotShortableReason",
    "OptionExpiryDate",
    "OptionsContract",
    "SessionSchedule",
    "ShortableAttribute",
    "SnapshotGreeks",
    "SnapshotLastTrade",
    "SnapshotQuote",
    "SnapshotSession",
    "TickRule",
    "TradingSessions",
]


# -- enumerations (Clear Street's API documentation) -----------------------------------------------------------


class MarginType(StrEnum):
    OTHER = "OTHER"
    NONE = "NONE"
    PORTFOLIO_MARGIN = "PORTFOLIO_MARGIN"
    RISK_BASED_HAIRCUT_BROKER_DEALER = "RISK_BASED_HAIRCUT_BROKER_DEALER"
    REG_T = "REG_T"
    RISK_BASED_HAIRCUT_MARKET_MAKER = "RISK_BASED_HAIRCUT_MARKET_MAKER"
    CIRO = "CIRO"
    FUTURES_NLV = "FUTURES_NLV"
    FUTURES_TOT_EQ = "FUTURES_TOT_EQ"


class ContractType(StrEnum):
    CALL = "CALL"
    PUT = "PUT"


class ExerciseStyle(StrEnum):
    AMERICAN = "AMERICAN"
    EUROPEAN = "EUROPEAN"


class ListingType(StrEnum):
    STANDARD = "STANDARD"
    FLEX = "FLEX"
    OTC = "OTC"


class ShortableAttribute(StrEnum):
    EASY_TO_BORROW = "EASY_TO_BORROW"
    HARD_TO_BORROW = "HARD_TO_BORROW"
    NOT_SHORTABLE = "NOT_SHORTABLE"


class NotShortableReason(StrEnum):
    INSUFFICIENT_LOCATE_INVENTORY = "INSUFFICIENT_LOCATE_INVENTORY"
    UNSUPPORTED_SECURITY = "UNSUPPORTED_SECURITY"


class MarketType(StrEnum):
    US_EQUITIES = "us_equities"
    US_OPTIONS = "us_options"
    US_EVENT_CONTRACTS = "us_event_contracts"


class MarketSessionType(StrEnum):
    OVERNIGHT = "overnight"
    PRE_MARKET = "pre_market"
    REGULAR = "regular"
    AFTER_HOURS = "after_hours"


class DayType(StrEnum):
    TRADING_DAY = "TRADING_DAY"
    EARLY_CLOSE = "EARLY_CLOSE"
    HOLIDAY = "HOLIDAY"
    WEEKEND = "WEEKEND"


OpenMarginType = Annotated[MarginType | str, _known(MarginType), _described(MarginType)]
OpenContractType = Annotated[ContractType | str, _known(ContractType), _described(ContractType)]
OpenExerciseStyle = Annotated[ExerciseStyle | str, _known(ExerciseStyle), _described(ExerciseStyle)]
OpenListingType = Annotated[ListingType | str, _known(ListingType), _described(ListingType)]
OpenShortableAttribute = Annotated[ShortableAttribute | str, _known(ShortableAttribute), _described(ShortableAttribute)]
OpenNotShortableReason = Annotated[NotShortableReason | str, _known(NotShortableReason), _described(NotShortableReason)]
OpenMarketType = Annotated[MarketType | str, _known(MarketType), _described(MarketType)]
OpenMarketSessionType = Annotated[MarketSessionType | str, _known(MarketSessionType), _described(MarketSessionType)]
OpenDayType = Annotated[DayType | str, _known(DayType), _described(DayType)]


# -- balances (GET /v1/accounts/{account_id}/balances) -------------------------------------------------------------------------


class AccountBalancesSod(WireModel):
    buying_power: DecimalString
    equity: DecimalString
    long_market_value: DecimalString
    short_market_value: DecimalString
    asof: dt.date | None = None
    maintenance_margin_excess: DecimalString | None = None
    maintenance_margin_requirement: DecimalString | None = None
    trade_cash: DecimalString | None = None


class MarginSessionDetails(WireModel):
    buying_power: DecimalString
    multiplier: DecimalString | None = None


class MarginDetailsUsage(WireModel):
    total: DecimalString
    used: DecimalString


class MarginTopContributor(WireModel):
    underlying_instrument_id: str
    market_value: DecimalString
    initial_margin_requirement: DecimalString
    maintenance_margin_requirement: DecimalString
    overnight_margin_requirement: DecimalString


class MarginDetails(WireModel):
    initial_margin_requirement: DecimalString
    initial_margin_excess: DecimalString
    maintenance_margin_requirement: DecimalString
    maintenance_margin_excess: DecimalString
    overnight_margin_requirement: DecimalString
    overnight_margin_excess: DecimalString
    intraday_details: MarginSessionDetails
    overnight_details: MarginSessionDetails
    top_contributors: list[MarginTopContributor] | None = None
    usage: MarginDetailsUsage | None = None


class AccountBalances(WireModel):
    """``GET /v1/accounts/{account_id}/balances``. ``short_market_value`` absent means zero; its
    sign is not settled upstream, so use ``-abs(value)`` when computing."""

    account_id: int
    buying_power: DecimalString
    currency: str
    daily_change: DecimalString
    daily_pnl: DecimalString
    daily_realized_pnl: DecimalString
    daily_unrealized_pnl: DecimalString
    equity: DecimalString
    long_market_value: DecimalString
    margin_type: OpenMarginType
    open_order_adjustment: DecimalString
    settled_cash: DecimalString
    sod: AccountBalancesSod
    trade_cash: DecimalString
    unrealized_pnl: DecimalString
    unsettled_credits: DecimalString
    unsettled_debits: DecimalString
    withdrawable_cash: DecimalString
    margin_details: MarginDetails | None = None
    multiplier: DecimalString | None = None
    short_market_value: DecimalString | None = None


# -- market-data snapshot (GET /v1/market-data/snapshot) -------------------------------------------------------------


class SnapshotQuote(WireModel):
    """Every field may be missing: a one-sided quote has no ``bid`` (or ``ask``) and no ``midpoint``."""

    bid: DecimalString | None = None
    bid_size: int | None = None
    bid_venue: str | None = None
    bid_timestamp: dt.datetime | None = None
    ask: DecimalString | None = None
    ask_size: int | None = None
    ask_venue: str | None = None
    ask_timestamp: dt.datetime | None = None
    midpoint: DecimalString | None = None


class SnapshotLastTrade(WireModel):
    """For an index, ``price`` is the index level and ``size`` is 0."""

    price: DecimalString
    size: int
    timestamp: dt.datetime | None = None
    venue: str | None = None


class SnapshotSession(WireModel):
    ohlv_applicable: bool
    open: DecimalString | None = None
    high: DecimalString | None = None
    low: DecimalString | None = None
    ohlv_date: dt.date | None = None
    cumulative_volume: int | None = None
    previous_close: DecimalString | None = None
    previous_close_unadjusted: DecimalString | None = None
    change: DecimalString | None = None
    change_percent: DecimalString | None = None


class SnapshotGreeks(WireModel):
    """Per share (no multiplier applied). ``iv`` is withheld upstream: always ``0``, never use it."""

    delta: DecimalString
    gamma: DecimalString
    theta: DecimalString
    vega: DecimalString
    rho: DecimalString
    theo_price: DecimalString
    iv: DecimalString
    timestamp: dt.datetime


class MarketDataSnapshot(WireModel):
    """One row of ``GET /v1/market-data/snapshot``. ``greeks`` is None for equities and for options
    whose greeks were not observed yet: report delta as unavailable rather than guess."""

    instrument_id: str
    symbol: str
    session: SnapshotSession
    short_sale_restricted: bool | None = None
    last_quote: SnapshotQuote | None = None
    last_trade: SnapshotLastTrade | None = None
    greeks: SnapshotGreeks | None = None
    open_interest: int | None = None
    name: str | None = None
    cumulative_volume: int | None = None


# -- instruments and option contracts (sections 4 and 5) ------------------------------------------


class TickRule(WireModel):
    start_price: DecimalString
    tick_size: DecimalString
    end_price: DecimalString | None = None


class OptionsContract(WireModel):
    """One row of ``GET /v1/instruments/options/contracts``. ``multiplier`` is per contract: never
    assume 100."""

    id: str
    symbol: str
    contract_type: OpenContractType
    strike_price: DecimalString
    expiry: dt.date
    multiplier: DecimalString
    exercise_style: OpenExerciseStyle
    listing_type: OpenListingType
    currency: str
    exchange: str
    is_tradable: bool
    is_liquidation_only: bool
    is_marginable: bool
    is_settle_on_open: bool | None = None
    last_trade_cutoff: dt.datetime | None = None
    open_interest: int | None = None
    tick_rules: list[TickRule] | None = None
    underlying_instrument_id: str | None = None


class OptionExpiryDate(WireModel):
    date: dt.date
    has_settles_on_close: bool
    has_settles_on_open: bool


class Instrument(WireModel):
    """``GET /v1/instruments/{instrument_id}``. An option looked up here has no strike, expiry or
    multiplier: use :class:`OptionsContract` for those."""

    id: str
    symbol: str
    venue: str
    country_of_issue: str
    currency: str
    is_tradable: bool
    is_liquidation_only: bool
    is_short_prohibited: bool
    is_marginable: bool
    is_fractionable: bool
    is_threshold_security: bool
    is_ptp: bool
    easy_to_borrow: bool
    instrument_type: OpenSecurityType | None = None
    name: str | None = None
    previous_close: DecimalString | None = None
    cax_adjusted_previous_close: DecimalString | None = None
    adv: DecimalString | None = None
    notional_adv: DecimalString | None = None
    long_margin_rate: DecimalString | None = None
    short_margin_rate: DecimalString | None = None
    shortable_attribute: OpenShortableAttribute | None = None
    not_shortable_reasons: list[OpenNotShortableReason] | None = None
    tick_rules: list[TickRule] | None = None
    options_contract_expiry_dates: list[OptionExpiryDate] | None = None
    options_expiry_dates: list[dt.date] | None = None


# -- clock and market hours (GET /v1/clock, /v1/calendars/market-hours) -----------------------------------------------------------


class ClockDetail(WireModel):
    clock: dt.datetime


class SessionSchedule(WireModel):
    open: dt.datetime
    close: dt.datetime
    time_until_close: str | None = None
    """ISO 8601 duration (``PT1H29M15S``), only while the session is open."""
    time_until_open: str | None = None
    """ISO 8601 duration, only before the session starts."""


class TradingSessions(WireModel):
    """Every session may be missing (``{}`` on holidays and weekends)."""

    overnight: SessionSchedule | None = None
    pre_market: SessionSchedule | None = None
    regular: SessionSchedule | None = None
    after_hours: SessionSchedule | None = None
    maintenance: SessionSchedule | None = None


class MarketStatus(WireModel):
    day_type: OpenDayType
    is_open: bool
    current_session: OpenMarketSessionType | None = None


class MarketHoursDetail(WireModel):
    market: OpenMarketType
    market_name: str
    date: dt.date
    timezone: str
    current_time: dt.datetime
    status: MarketStatus
    today_sessions: TradingSessions
    next_sessions: TradingSessions
