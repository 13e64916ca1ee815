"""The demo book (README.md's simulator section) and generated accounts, built relative to today in New York.

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

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

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
from .instruments import SimInstrument
from .state import CLEARING_DOMAIN, Rejection, SimInstruction, SimulatorState

DEMO_PRIMARY_ACCOUNT = 19816
DEMO_INSTRUCTIONS_ACCOUNT = 122503
MAX_GENERATED_POSITIONS = 250_000

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


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK).astimezone(UTC)


def build_demo_book(state: SimulatorState) -> DemoDates:
    """Create the two demo accounts in ``state``; returns the dates the book was built around."""
    dates = demo_dates(state.today())
    instruments = state.instruments

    def equity(
        ticker: str, price: str | None, close: str, volatility: str, name: str, *, instrument_id: str | None = None
    ) -> SimInstrument:
        return instruments.equity(
            ticker,
            None if price is None else dec(price),
            dec(close),
            instrument_id=instrument_id,
            volatility=dec(volatility),
            name=name,
        )

    aapl = equity("AAPL", "151.00", "150.50", "0.28", "Apple Inc.", instrument_id=AAPL_ID)
    tsla = equity("TSLA", "178.50", "180.00", "0.55", "Tesla, Inc.", instrument_id=TSLA_ID)
    goog = equity("GOOG", "139.05", "138.20", "0.30", "Alphabet Inc. Class C", instrument_id=GOOG_ID)
    msft = equity("MSFT", "417.80", "415.30", "0.24", "Microsoft Corporation")
    nvda = equity("NVDA", "123.15", "121.40", "0.50", "NVIDIA Corporation")
    amzn = equity("AMZN", "185.95", "186.70", "0.32", "Amazon.com, Inc.")
    brk = equity("BRK.B", None, "452.35", "0.18", "Berkshire Hathaway Inc. Class B")  # no current quote today
    spy = equity("SPY", "560.25", "562.10", "0.16", "SPDR S&P 500 ETF Trust")
    spx = instruments.equity(
        "SPX",
        dec("5602.50"),
        dec("5621.00"),
        instrument_id=SPX_ID,
        instrument_type=SecurityType.INDEX,
        volatility=dec("0.16"),
        name="S&P 500 Index",
    )
    usd = instruments.equity("USD", dec("1.00"), dec("1.00"), instrument_type=SecurityType.CASH, name="US Dollar")

    near, later = dates.next_expiry, dates.monthly_expiry
    aapl_c145 = instruments.option(aapl, near, CALL, dec("145"), dec("6.20"), dec("5.75"), instrument_id=AAPL_CALL_ID)
    aapl_c160 = instruments.option(aapl, near, CALL, dec("160"), dec("0.18"), dec("0.22"))
    spy_p565 = instruments.option(spy, near, PUT, dec("565"), dec("5.10"), dec("4.60"))
    nvda_p125 = instruments.option(nvda, near, PUT, dec("125"), dec("2.30"), dec("3.85"))
    tsla_p170 = instruments.option(tsla, later, PUT, dec("170"), dec("4.85"), dec("5.40"), greeks_observed=False)
    msft_c430 = instruments.option(msft, later, CALL, dec("430"), dec("6.40"), dec("5.95"))
    goog_c135 = instruments.option(goog, later, CALL, dec("135"), dec("7.35"), dec("6.80"))
    aapl1_c140 = instruments.option(  # adjusted contract: 150 AAPL shares per contract
        aapl, later, CALL, dec("140"), dec("13.20"), dec("12.85"), instrument_id=AAPL1_CALL_ID, root="AAPL1",
        multiplier=dec("150"),
    )  # fmt: skip
    spx_c5700 = instruments.option(  # index option: European, AM-settled, cash-settled
        spx, later, CALL, dec("5700"), dec("106.40"), dec("114.80"), instrument_id=SPX_CALL_ID,
        exercise_style=ExerciseStyle.EUROPEAN, settles_on_open=True, cash_settled=True,
    )  # fmt: skip

    primary = state.open_account(DEMO_PRIMARY_ACCOUNT)
    for instrument, qty, avg in (
        (aapl, "100", "145.00"),
        (tsla, "-50", "180.00"),
        (goog, "25", "132.40"),
        (msft, "200", "388.25"),
        (nvda, "-30", "131.10"),
        (amzn, "12.5", "171.36"),
        (brk, "8", "410.00"),
        (usd, "25000.00", "1.00"),
        (aapl_c145, "10", "2.50"),
        (aapl_c160, "5", "0.95"),
        (spy_p565, "2", "3.40"),
        (nvda_p125, "-5", "2.05"),
        (tsla_p170, "4", "6.10"),
        (msft_c430, "-3", "7.90"),
        (goog_c135, "6", "5.20"),
        (aapl1_c140, "2", "9.80"),
        (spx_c5700, "1", "92.50"),
    ):
        state.hold(primary, instrument, dec(qty), dec(avg))
    yesterday = previous_business_day(dates.today)
    state.add_order(
        primary,
        msft,
        side=Side.SELL,
        quantity=dec("80"),
        client_order_id=f"rebalance-{yesterday:%Y%m%d}-0007",
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GOOD_TILL_CANCEL,
        created_at=_at(yesterday, 11, 42),
        status=OrderStatus.NEW,
        limit_price=dec("450.00"),
    )

    aapl_leap = instruments.option(
        aapl, date(2028, 1, 21), CALL, dec("195"), dec("12.40"), dec("12.15"), instrument_id=AAPL_LEAP_ID
    )
    tsla_c185 = instruments.option(tsla, near, CALL, dec("185"), dec("0.62"), dec("0.85"))
    second = state.open_account(DEMO_INSTRUCTIONS_ACCOUNT)
    for instrument, qty, avg in (  # as they stood before the exercise of three days ago
        (aapl, "200", "140.70"),
        (aapl_leap, "6", "10.80"),
        (tsla_c185, "3", "1.40"),
        (usd, "24500.00", "1.00"),
    ):
        state.hold(second, instrument, dec(qty), dec(avg))
    state.exercise(second, aapl_leap, dec("1"))  # → 5 contracts, 300 AAPL at 162.40, 5,000.00 cash
    _instruction_history(state, second.account_id, aapl_leap, dates.today)
    state.mark_start_of_day(primary)
    state.mark_start_of_day(second)
    return dates


def _instruction_history(state: SimulatorState, account_id: int, contract: SimInstrument, today: date) -> None:
    account = state.accounts[account_id]
    three_days_ago = previous_business_day(previous_business_day(previous_business_day(today)))
    two_days_ago = previous_business_day(previous_business_day(today))
    yesterday = previous_business_day(today)
    history = [
        SimInstruction(
            id=AAPL_LEAP_EXERCISE_ID,
            account_id=account_id,
            client_instruction_id=f"ui-{three_days_ago:%Y%m%d}-001",
            instruction_type=InstructionType.EXERCISE,
            instrument=contract,
            instrument_ref=contract.instrument_id,
            quantity=dec("1"),
            status=InstructionStatus.ACCEPTED,
            created_at=_at(three_days_ago, 10, 30),
            updated_at=_at(three_days_ago, 11, 5),
            accepted_quantity=dec("1"),
        ),
        SimInstruction(
            id=state.ids.server_id(_at(two_days_ago, 9, 50)),
            account_id=account_id,
            client_instruction_id=f"ui-{two_days_ago:%Y%m%d}-001",
            instruction_type=InstructionType.EXERCISE,
            instrument=contract,
            instrument_ref=contract.instrument_id,
            quantity=dec("2"),
            status=InstructionStatus.CANCELLED,
            created_at=_at(two_days_ago, 9, 50),
            updated_at=_at(two_days_ago, 9, 56),
        ),
        SimInstruction(
            id=state.ids.server_id(_at(yesterday, 14, 15)),
            account_id=account_id,
            client_instruction_id=f"ui-{yesterday:%Y%m%d}-001",
            instruction_type=InstructionType.EXERCISE,
            instrument=contract,
            instrument_ref=contract.instrument_id,
            quantity=dec("1"),
            status=InstructionStatus.REJECTED,
            created_at=_at(yesterday, 14, 15),
            updated_at=_at(yesterday, 14, 40),
            rejection=Rejection(
                reason="CLEARING_REJECTED",
                domain=CLEARING_DOMAIN,
                description="Rejected by clearing: received after the clearing firm's processing window",
            ),
        ),
    ]
    for instruction in history:
        account.record_instruction(instruction)


def place_instruction(
    state: SimulatorState,
    account_id: int,
    instrument: SimInstrument,
    instruction_type: InstructionType,
    quantity: Decimal,
    status: InstructionStatus,
    client_instruction_id: str | None = None,
) -> SimInstruction:
    """Put an instruction in the book as it stands, in any status, with no transition scheduled
    (used to build books). An ACCEPTED one has its ``accepted_quantity``; an ACCEPTED EXERCISE is
    delivered as clearing would (``SimulatorState.exercise``); REJECTED and CANCEL_FAILED carry a
    rejection saying why."""
    now = state.now()
    account = state.accounts[account_id]
    rejection = None
    if status is InstructionStatus.REJECTED:
        rejection = Rejection("CLEARING_REJECTED", CLEARING_DOMAIN, "Rejected by clearing")
    elif status is InstructionStatus.CANCEL_FAILED:
        rejection = Rejection("CANCEL_FAILED", CLEARING_DOMAIN, "Cancel failed: the instruction stands")
    instruction = SimInstruction(
        id=state.ids.server_id(now),
        account_id=account_id,
        client_instruction_id=client_instruction_id or f"book-{len(account.instructions) + 1:04d}",
        instruction_type=instruction_type,
        instrument=instrument,
        instrument_ref=instrument.instrument_id,
        quantity=quantity,
        status=status,
        created_at=now,
        updated_at=now,
        accepted_quantity=quantity if status in (InstructionStatus.ACCEPTED, InstructionStatus.CANCEL_FAILED) else None,
        rejection=rejection,
    )
    account.record_instruction(instruction)
    if status is InstructionStatus.ACCEPTED and instruction_type is InstructionType.EXERCISE:
        state.exercise(account, instrument, quantity)
    return instruction


# ------------------------------------------------------------------ generated accounts


def _generated_ticker(index: int) -> str:
    """``ZAAAA``, ``ZAAAB``, …: five characters, never a demo ticker."""
    letters = []
    for _ in range(4):
        index, digit = divmod(index, 26)
        letters.append(chr(ord("A") + digit))
    return "Z" + "".join(reversed(letters))


def _cents(value: int) -> Decimal:
    return Decimal(value) / 100


def _generated_equity(state: SimulatorState, ticker: str) -> SimInstrument:
    quote = random.Random(f"quote:{ticker}")  # prices depend on the instrument, not the account
    price = _cents(quote.randint(500, 60_000))
    close = max(dec("0.50"), price + _cents(quote.randint(-300, 300)))
    volatility = _cents(quote.randint(15, 80))  # 15 % to 80 %, for the greeks of its options
    return state.instruments.equity(ticker, price, close, volatility=volatility)


def _option_premium(underlier: Decimal, strike: Decimal, right: OptionRight, time_value: Decimal) -> Decimal:
    intrinsic = max(Decimal(0), underlier - strike if right is CALL else strike - underlier)
    return intrinsic + time_value


def _generated_option(
    state: SimulatorState, underlier: SimInstrument, expiry: date, right: OptionRight, strike: Decimal
) -> SimInstrument:
    assert underlier.instrument_price is not None and underlier.closing_price is not None
    quote = random.Random(f"quote:{underlier.symbol}:{expiry}:{right}:{strike}")
    price = _option_premium(underlier.instrument_price, strike, right, _cents(quote.randint(5, 900)))
    close = _option_premium(underlier.closing_price, strike, right, _cents(quote.randint(5, 900)))
    return state.instruments.option(underlier, expiry, right, strike, price, close)


def add_generated_account(state: SimulatorState, account_id: int, positions: int, seed: int) -> None:
    """A deterministic account of ``positions`` positions: 60% equities (one in ten short, some
    fractional), 40% options on them (calls and puts over six weekly expiries, one in four short)."""
    if not 1 <= positions <= MAX_GENERATED_POSITIONS:
        raise ValueError(f"positions must be from 1 to {MAX_GENERATED_POSITIONS}")
    rng = random.Random(seed)
    account = state.open_account(account_id)
    equity_count = max(1, positions * 3 // 5)
    expiries = [next_expiry_business_day(state.today())]
    while len(expiries) < 6:
        expiries.append(next_expiry_business_day(expiries[-1] + timedelta(days=1)))
    equities = []
    for index in range(equity_count):
        instrument = _generated_equity(state, _generated_ticker(index))
        equities.append(instrument)
        shares = Decimal(rng.randint(1, 2_000))
        if rng.randrange(100) < 5:
            shares += dec("0.5")
        if rng.randrange(10) == 0:
            shares = -shares
        assert instrument.closing_price is not None
        avg = max(dec("0.01"), instrument.closing_price * (1 + _cents(rng.randint(-2_500, 2_500)) / 100))
        state.hold(account, instrument, shares, avg.quantize(dec("0.01")))
    for index in range(positions - equity_count):
        underlier = equities[index % equity_count]
        series = index // equity_count
        expiry = expiries[series % len(expiries)]
        right = CALL if (series // len(expiries)) % 2 == 0 else PUT
        assert underlier.instrument_price is not None
        base = max(dec("5"), (underlier.instrument_price * dec("0.9") / 5).to_integral_value() * 5)
        strike = base + 5 * (series // (2 * len(expiries)))
        contract = _generated_option(state, underlier, expiry, right, strike)
        contracts = Decimal(rng.randint(1, 50))
        if rng.randrange(4) == 0:
            contracts = -contracts
        assert contract.closing_price is not None
        avg = max(dec("0.01"), contract.closing_price * (1 + _cents(rng.randint(-4_000, 4_000)) / 100))
        state.hold(account, contract, contracts, avg.quantize(dec("0.01")))
    state.mark_start_of_day(account)
