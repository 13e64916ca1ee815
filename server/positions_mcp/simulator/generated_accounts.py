"""Generated accounts for benchmarks and paging tests: large, deterministic books of equities and
options, longs and shorts, their instruments registered like the demo's.

A generated account of ``positions`` positions holds 60% equities (one in ten short, some
fractional) and 40% options on them (calls and puts over six weekly expiries, one in four short).
Prices depend on the instrument alone, not on the account or its seed; every option premium is at
least its intrinsic value, at the current price and at the close.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from ..domain.calendar import next_expiry_business_day
from ..domain.osi import OptionRight
from .instrument_registry import SimInstrument
from .state import SimulatorState

MAX_GENERATED_POSITIONS = 250_000
CALL, PUT = OptionRight.CALL, OptionRight.PUT


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
    close = max(Decimal("0.50"), price + _cents(quote.randint(-300, 300)))
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
    """A deterministic account of ``positions`` positions (the module docstring says what it holds)."""
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
            shares += Decimal("0.5")
        if rng.randrange(10) == 0:
            shares = -shares
        assert instrument.closing_price is not None
        avg = max(Decimal("0.01"), instrument.closing_price * (1 + _cents(rng.randint(-2_500, 2_500)) / 100))
        state.hold(account, instrument, shares, avg.quantize(Decimal("0.01")))
    for index in range(positions - equity_count):
        underlier = equities[index % equity_count]
        series = index // equity_count
        expiry = expiries[series % len(expiries)]
        right = CALL if (series // len(expiries)) % 2 == 0 else PUT
        assert underlier.instrument_price is not None
        base = max(Decimal("5"), (underlier.instrument_price * Decimal("0.9") / 5).to_integral_value() * 5)
        strike = base + 5 * (series // (2 * len(expiries)))
        contract = _generated_option(state, underlier, expiry, right, strike)
        contracts = Decimal(rng.randint(1, 50))
        if rng.randrange(4) == 0:
            contracts = -contracts
        assert contract.closing_price is not None
        avg = max(Decimal("0.01"), contract.closing_price * (1 + _cents(rng.randint(-4_000, 4_000)) / 100))
        state.hold(account, contract, contracts, avg.quantize(Decimal("0.01")))
    state.mark_start_of_day(account)
