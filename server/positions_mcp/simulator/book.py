"""The demo book (README.md's simulator section), built relative to today in New York: the data
below, and a small builder that registers it and replays its history.

Account 19816 reproduces the seed examples (AAPL 100 long, TSLA 50 short, an AAPL call of 10
contracts, GOOG 25 long) and adds what every prompt needs: a MSFT position partly reserved by a
working sell order, a short equity, a fractional-share position, a position without a current
price (BRK.B), a cash balance, and options — calls and puts, long and short, some expiring on the
next expiry business day (in and out of the money), some later, one on an underlier the account
does not hold (SPY, priced by the snapshot all the same). It also holds the contracts the
market-data paths need: an adjusted ``AAPL1`` call whose multiplier is 150 (not 100), a
European-style, cash-settled, AM-settled ``SPX`` index call (the SPX index is priced like any
underlier, and is not held), and the TSLA put, whose greeks the simulated feed never observed
(snapshot ``greeks: null``). The ten AAPL 145 calls expiring next cost 145,000.00 to exercise
against 25,000.00 of cash.

Account 122503 holds the instruction examples' contract ``AAPL  280121C00195000``. Its history has
an ACCEPTED exercise of one contract three business days ago, and its holdings are what that left:
it held 6 contracts, 200 AAPL at 140.70 and 24,500.00 of cash; the exercise (replayed through the
simulator's own delivery) left 5 contracts, 300 AAPL at 162.40 (100 received at 195 + 10.80 premium)
and 5,000.00 of cash (100 × 195 paid).

Every option premium is at least its intrinsic value, at the current price and at the close.
Volatilities (for the snapshot greeks) are fixed per underlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from ..clearstreet.market_models import ExerciseStyle
from ..clearstreet.models import (
    InstructionStatus,
    InstructionType,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
    TimeInForce,
)
from ..domain.calendar import (
    NEW_YORK,
    expiration_business_day,
    next_expiry_business_day,
    previous_business_day,
)
from ..domain.osi import OptionRight
from .accounts import Account
from .instruction_lifecycle import (
    CLEARING_DOMAIN,
    STANDING_INSTRUCTION_STATUSES,
    Rejection,
    SimInstruction,
    exercise,
)
from .instrument_registry import STANDARD_MULTIPLIER, SimInstrument
from .order_lifecycle import add_order
from .state import SimulatorState

DEMO_PRIMARY_ACCOUNT = 19816
DEMO_INSTRUCTIONS_ACCOUNT = 122503

AAPL_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"
TSLA_ID = "d4d5d6d7-e4e5-f4f5-a4a5-a6a7a8a9aaab"
GOOG_ID = "c3c4c5c6-d3d4-e3e4-f3f4-f5f6f7f8f9fa"
AAPL_CALL_ID = "e5e6e7e8-f5f6-a5a6-b5b6-b7b8b9babcbe"
AAPL_LEAP_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e01"  # AAPL 280121C00195000 in the instruction examples
AAPL_LEAP_EXERCISE_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e02"
AAPL1_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e11"  # adjusted AAPL1 call, multiplier 150
SPX_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e20"  # the S&P 500 index
SPX_CALL_ID = "0195f6d0-a1b2-7c3d-8e4f-5a6b7c8d9e21"  # SPX 5700 call: European, AM-, cash-settled

CALL, PUT = OptionRight.CALL, OptionRight.PUT


def dec(text: str) -> Decimal:
    """A Decimal from its exact text."""
    return Decimal(text)


@dataclass(frozen=True, slots=True)
class DemoDates:
    today: date
    next_expiry: date
    """The next expiry business day (``calendar.next_expiry_business_day``)."""
    monthly_expiry: date
    """The third-Friday expiry two months out."""


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def demo_dates(today: date) -> DemoDates:
    month_index = today.year * 12 + today.month - 1 + 2
    monthly = expiration_business_day(_third_friday(month_index // 12, month_index % 12 + 1))
    return DemoDates(today, next_expiry_business_day(today), monthly)


# ------------------------------------------------------------------ the data


@dataclass(frozen=True, slots=True)
class DemoEquity:
    """An equity, index or cash instrument: current price (None: no quote today) and last close."""

    ticker: str
    price: str | None
    close: str
    name: str
    volatility: str | None = None
    instrument_id: str | None = None
    instrument_type: SecurityType = SecurityType.COMMON_STOCK


@dataclass(frozen=True, slots=True)
class DemoOption:
    """An option contract, named for the holdings below; ``expiry`` a date or one of ``DemoDates``'."""

    name: str
    underlier: str
    expiry: Literal["next_expiry", "monthly_expiry"] | date
    right: OptionRight
    strike: str
    price: str
    close: str
    instrument_id: str | None = None
    root: str | None = None
    multiplier: Decimal = STANDARD_MULTIPLIER
    exercise_style: ExerciseStyle = ExerciseStyle.AMERICAN
    settles_on_open: bool = False
    cash_settled: bool = False
    greeks_observed: bool = True


@dataclass(frozen=True, slots=True)
class PastInstruction:
    """An EXERCISE in account 122503's history on the LEAP call, ``business_days_ago`` before today."""

    business_days_ago: int
    created: time
    updated: time
    quantity: str
    status: InstructionStatus
    instruction_id: str | None = None
    """None: a server id drawn when the book is built."""
    rejection: Rejection | None = None


EQUITIES = (
    DemoEquity("AAPL", "151.00", "150.50", "Apple Inc.", "0.28", AAPL_ID),
    DemoEquity("TSLA", "178.50", "180.00", "Tesla, Inc.", "0.55", TSLA_ID),
    DemoEquity("GOOG", "139.05", "138.20", "Alphabet Inc. Class C", "0.30", GOOG_ID),
    DemoEquity("MSFT", "417.80", "415.30", "Microsoft Corporation", "0.24"),
    DemoEquity("NVDA", "123.15", "121.40", "NVIDIA Corporation", "0.50"),
    DemoEquity("AMZN", "185.95", "186.70", "Amazon.com, Inc.", "0.32"),
    DemoEquity("BRK.B", None, "452.35", "Berkshire Hathaway Inc. Class B", "0.18"),  # no current quote today
    DemoEquity("SPY", "560.25", "562.10", "SPDR S&P 500 ETF Trust", "0.16"),
    DemoEquity("SPX", "5602.50", "5621.00", "S&P 500 Index", "0.16", SPX_ID, SecurityType.INDEX),
    DemoEquity("USD", "1.00", "1.00", "US Dollar", instrument_type=SecurityType.CASH),
)
OPTIONS = (
    DemoOption("aapl_c145", "AAPL", "next_expiry", CALL, "145", "6.20", "5.75", AAPL_CALL_ID),
    DemoOption("aapl_c160", "AAPL", "next_expiry", CALL, "160", "0.18", "0.22"),
    DemoOption("spy_p565", "SPY", "next_expiry", PUT, "565", "5.10", "4.60"),
    DemoOption("nvda_p125", "NVDA", "next_expiry", PUT, "125", "2.30", "3.85"),
    DemoOption("tsla_p170", "TSLA", "monthly_expiry", PUT, "170", "4.85", "5.40", greeks_observed=False),
    DemoOption("msft_c430", "MSFT", "monthly_expiry", CALL, "430", "6.40", "5.95"),
    DemoOption("goog_c135", "GOOG", "monthly_expiry", CALL, "135", "7.35", "6.80"),
    DemoOption(  # adjusted contract: 150 AAPL shares per contract
        "aapl1_c140",
        "AAPL",
        "monthly_expiry",
        CALL,
        "140",
        "13.20",
        "12.85",
        AAPL1_CALL_ID,
        root="AAPL1",
        multiplier=Decimal("150"),
    ),
    DemoOption(  # index option: European, AM-settled, cash-settled
        "spx_c5700",
        "SPX",
        "monthly_expiry",
        CALL,
        "5700",
        "106.40",
        "114.80",
        SPX_CALL_ID,
        exercise_style=ExerciseStyle.EUROPEAN,
        settles_on_open=True,
        cash_settled=True,
    ),
    DemoOption("aapl_leap", "AAPL", date(2028, 1, 21), CALL, "195", "12.40", "12.15", AAPL_LEAP_ID),
    DemoOption("tsla_c185", "TSLA", "next_expiry", CALL, "185", "0.62", "0.85"),
)
PRIMARY_HOLDINGS = (  # (ticker or option name, quantity, average price)
    ("AAPL", "100", "145.00"),
    ("TSLA", "-50", "180.00"),
    ("GOOG", "25", "132.40"),
    ("MSFT", "200", "388.25"),
    ("NVDA", "-30", "131.10"),
    ("AMZN", "12.5", "171.36"),
    ("BRK.B", "8", "410.00"),
    ("USD", "25000.00", "1.00"),
    ("aapl_c145", "10", "2.50"),
    ("aapl_c160", "5", "0.95"),
    ("spy_p565", "2", "3.40"),
    ("nvda_p125", "-5", "2.05"),
    ("tsla_p170", "4", "6.10"),
    ("msft_c430", "-3", "7.90"),
    ("goog_c135", "6", "5.20"),
    ("aapl1_c140", "2", "9.80"),
    ("spx_c5700", "1", "92.50"),
)
INSTRUCTIONS_HOLDINGS = (  # as they stood before the history's exercise of three days ago
    ("AAPL", "200", "140.70"),
    ("aapl_leap", "6", "10.80"),
    ("tsla_c185", "3", "1.40"),
    ("USD", "24500.00", "1.00"),
)
INSTRUCTION_HISTORY = (  # the accepted one is delivered: → 5 contracts, 300 AAPL at 162.40, 5,000.00 cash
    PastInstruction(3, time(10, 30), time(11, 5), "1", InstructionStatus.ACCEPTED, AAPL_LEAP_EXERCISE_ID),
    PastInstruction(2, time(9, 50), time(9, 56), "2", InstructionStatus.CANCELLED),
    PastInstruction(
        1,
        time(14, 15),
        time(14, 40),
        "1",
        InstructionStatus.REJECTED,
        rejection=Rejection(
            reason="CLEARING_REJECTED",
            domain=CLEARING_DOMAIN,
            description="Rejected by clearing: received after the clearing firm's processing window",
        ),
    ),
)


# ------------------------------------------------------------------ the builder


def build_demo_book(state: SimulatorState) -> DemoDates:
    """Create the two demo accounts in ``state``; returns the dates the book was built around."""
    dates = demo_dates(state.today())
    instruments = _register(state, dates)
    primary = _open(state, DEMO_PRIMARY_ACCOUNT, PRIMARY_HOLDINGS, instruments)
    yesterday = previous_business_day(dates.today)
    add_order(
        state,
        primary,
        instruments["MSFT"],
        side=Side.SELL,
        quantity=dec("80"),
        client_order_id=f"rebalance-{yesterday:%Y%m%d}-0007",
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GOOD_TILL_CANCEL,
        created_at=_at(yesterday, time(11, 42)),
        status=OrderStatus.NEW,
        limit_price=dec("450.00"),
    )
    second = _open(state, DEMO_INSTRUCTIONS_ACCOUNT, INSTRUCTIONS_HOLDINGS, instruments)
    for past in INSTRUCTION_HISTORY:
        _replay(state, second, instruments["aapl_leap"], past, dates.today)
    state.mark_start_of_day(primary)
    state.mark_start_of_day(second)
    return dates


def _register(state: SimulatorState, dates: DemoDates) -> dict[str, SimInstrument]:
    """Every instrument of the data, by ticker (equities) or name (options)."""
    registry = state.instruments
    by_name: dict[str, SimInstrument] = {}
    for equity in EQUITIES:
        by_name[equity.ticker] = registry.equity(
            equity.ticker,
            None if equity.price is None else dec(equity.price),
            dec(equity.close),
            instrument_id=equity.instrument_id,
            instrument_type=equity.instrument_type,
            volatility=None if equity.volatility is None else dec(equity.volatility),
            name=equity.name,
        )
    for option in OPTIONS:
        by_name[option.name] = registry.option(
            by_name[option.underlier],
            getattr(dates, option.expiry) if isinstance(option.expiry, str) else option.expiry,
            option.right,
            dec(option.strike),
            dec(option.price),
            dec(option.close),
            instrument_id=option.instrument_id,
            root=option.root,
            multiplier=option.multiplier,
            exercise_style=option.exercise_style,
            settles_on_open=option.settles_on_open,
            cash_settled=option.cash_settled,
            greeks_observed=option.greeks_observed,
        )
    return by_name


def _open(
    state: SimulatorState,
    account_id: int,
    holdings: tuple[tuple[str, str, str], ...],
    instruments: dict[str, SimInstrument],
) -> Account:
    account = state.open_account(account_id)
    for name, quantity, average in holdings:
        state.hold(account, instruments[name], dec(quantity), dec(average))
    return account


def _replay(
    state: SimulatorState, account: Account, contract: SimInstrument, past: PastInstruction, today: date
) -> None:
    """Record a past instruction as it ended; an accepted exercise is delivered as clearing did."""
    day = today
    for _ in range(past.business_days_ago):
        day = previous_business_day(day)
    created = _at(day, past.created)
    quantity = dec(past.quantity)
    account.record_instruction(
        SimInstruction(
            id=past.instruction_id or state.ids.server_id(created),
            account_id=account.account_id,
            client_instruction_id=f"ui-{day:%Y%m%d}-001",
            instruction_type=InstructionType.EXERCISE,
            instrument=contract,
            instrument_ref=contract.instrument_id,
            quantity=quantity,
            status=past.status,
            created_at=created,
            updated_at=_at(day, past.updated),
            accepted_quantity=quantity if past.status in STANDING_INSTRUCTION_STATUSES else None,
            rejection=past.rejection,
        )
    )
    if past.status is InstructionStatus.ACCEPTED:
        exercise(state, account, contract, quantity)


def _at(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, NEW_YORK).astimezone(UTC)
