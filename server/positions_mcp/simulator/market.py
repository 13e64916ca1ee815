"""Market data of the simulated market: snapshots, option contracts and instruments (Clear Street's
API documentation), all from the one price each instrument has.

One price per instrument: ``SimInstrument.instrument_price`` is what positions show as
``instrument_price``, the snapshot's ``last_trade.price`` and (when the price is on its tick grid,
as every demo price is) the quote's ``midpoint``, and what balances value positions at. The
previous close is ``closing_price``.

* **Quote**: bid = price − 2 ticks rounded down to the tick grid, ask = price + 2 ticks rounded up
  (the tick of the band each falls in, ``tick_rules``); a bid that would not be positive is left out
  (a one-sided quote, without ``midpoint``). No price, no quote and no last trade. An index has no
  quote: its ``last_trade`` carries the level with ``size`` 0 and no venue. Sizes, volumes and open
  interest are whole numbers derived from the symbol (stable across runs).
* **Session**: ``previous_close`` = the closing price; ``change`` and ``change_percent`` (4
  decimals) against it; ``open``/``high``/``low`` around the price and the close; ``ohlv_date`` the
  date of the latest regular session that has opened. An index has ``ohlv_applicable`` false.
* **Greeks** (options): Black-Scholes-Merton (``black_scholes``) on the underlier's price with the
  underlier's fixed volatility and 4 %, time to the contract's settlement (the close of its
  expiration business day; the open for AM-settled contracts) on the simulated clock. ``iv`` is
  always ``"0"``. ``greeks`` is null for equities, indices and cash, for the contract the demo marks
  as never observed, and when the underlier has no price.
* **Contracts**: ``multiplier``, ``exercise_style``, ``is_settle_on_open`` from the contract;
  ``listing_type`` STANDARD; ``last_trade_cutoff`` = the close (16:00 ET, 13:00 ET on an early
  close) of the expiration business day, or of the business day before it for AM-settled contracts,
  in UTC; ``is_tradable`` until then; penny-program tick rules (SPX: 0.05 / 0.10).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from ..clearstreet.market_models import ListingType, ShortableAttribute
from ..clearstreet.models import SecurityType
from ..domain.calendar import (
    expiration_business_day,
    new_york,
    previous_business_day,
    regular_session,
)
from ..domain.last_trade import trading_ends
from ..domain.numbers import plain
from .account_balances import LONG_STOCK_MAINTENANCE, SHORT_STOCK_MAINTENANCE
from .black_scholes import black_scholes
from .instrument_registry import SimInstrument
from .state import SimulatorState
from .wire import cents, optional_price, price, timestamp_ns, timestamp_s

CURRENCY = "USD"
COUNTRY = "US"
_PERCENT_STEP = Decimal("0.0001")
_QUOTE_TICKS = 2
_SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class TickBand:
    start: Decimal
    end: Decimal | None
    tick: Decimal

    def to_wire(self) -> dict[str, Any]:
        band: dict[str, Any] = {"start_price": plain(self.start), "tick_size": plain(self.tick)}
        if self.end is not None:
            band["end_price"] = plain(self.end)
        return band


def _bands(*bands: tuple[str, str | None, str]) -> tuple[TickBand, ...]:
    return tuple(TickBand(Decimal(a), None if b is None else Decimal(b), Decimal(c)) for a, b, c in bands)


EQUITY_TICKS = _bands(("0", "1", "0.0001"), ("1", None, "0.01"))
OPTION_TICKS = _bands(("0", "3", "0.01"), ("3", None, "0.05"))  # penny program
INDEX_OPTION_TICKS = _bands(("0", "3", "0.05"), ("3", None, "0.10"))
_INDEX_ROOTS = frozenset({"SPX", "SPXW", "NDX", "NDXP", "RUT", "RUTW", "VIX", "VIXW", "XSP"})


def tick_rules(instrument: SimInstrument) -> tuple[TickBand, ...] | None:
    """The price bands of ``instrument``; None for an index or cash (no schedule)."""
    if instrument.is_option:
        underlying = instrument.underlying
        return INDEX_OPTION_TICKS if underlying is not None and underlying.is_index else OPTION_TICKS
    if instrument.instrument_type in (SecurityType.INDEX, SecurityType.CASH):
        return None
    return EQUITY_TICKS


def tick_at(value: Decimal, bands: tuple[TickBand, ...]) -> Decimal:
    for band in bands:
        if value >= band.start and (band.end is None or value < band.end):
            return band.tick
    return bands[0].tick


def _to_grid(value: Decimal, bands: tuple[TickBand, ...], rounding: str) -> Decimal:
    tick = tick_at(value, bands)
    return (value / tick).to_integral_value(rounding=rounding) * tick


def _stable(text: str) -> int:
    """A number derived from ``text`` alone, the same in every run."""
    return zlib.crc32(text.encode("utf-8"))


# ------------------------------------------------------------------ settlement and trading times


def settlement_instant(instrument: SimInstrument) -> datetime:
    """When an option's value is settled: the close of its expiration business day, or the open of
    that day for an AM-settled contract."""
    contract = instrument.option
    assert contract is not None
    session = regular_session(expiration_business_day(contract.expiry))
    assert session is not None  # an expiration business day is a business day
    return session[0] if instrument.settles_on_open else session[1]


def last_trade_cutoff(instrument: SimInstrument) -> datetime:
    """The last moment an option trades: the close of its expiration business day, or of the
    business day before it for an AM-settled contract (16:00 ET, 13:00 ET on an early close):
    ``domain.last_trade.trading_ends``, the rule the server applies when a row has no cutoff."""
    contract = instrument.option
    assert contract is not None
    return trading_ends(contract.expiry, instrument.settles_on_open)


def is_tradable(instrument: SimInstrument, now: datetime) -> bool:
    if instrument.is_option:
        return now < last_trade_cutoff(instrument)
    return instrument.instrument_type in (SecurityType.COMMON_STOCK, SecurityType.PREFERRED_STOCK)


# ------------------------------------------------------------------------------------- snapshot


def _quote(instrument: SimInstrument, now: datetime) -> dict[str, Any] | None:
    value = instrument.instrument_price
    bands = tick_rules(instrument)
    if value is None or bands is None or instrument.is_index:
        return None
    spread = _QUOTE_TICKS * tick_at(value, bands)
    bid = _to_grid(value - spread, bands, ROUND_FLOOR)
    ask = _to_grid(value + spread, bands, ROUND_CEILING)
    seed = _stable(instrument.symbol)
    option = instrument.is_option
    at = timestamp_ns(now)
    quote: dict[str, Any] = {}
    if bid > 0:
        quote |= {
            "bid": price(bid),
            "bid_size": 1 + seed % 60 if option else 100 * (1 + seed % 9),
            "bid_venue": "XCBO" if option else "XNAS",
            "bid_timestamp": at,
        }
    quote |= {
        "ask": price(ask),
        "ask_size": 1 + (seed // 60) % 60 if option else 100 * (1 + (seed // 9) % 9),
        "ask_venue": "BATO" if option else "ARCX",
        "ask_timestamp": at,
    }
    if bid > 0:
        quote["midpoint"] = price((bid + ask) / 2)
    return quote


def _last_trade(instrument: SimInstrument, now: datetime) -> dict[str, Any] | None:
    value = instrument.instrument_price
    if value is None or instrument.instrument_type is SecurityType.CASH:
        return None
    if instrument.is_index:
        return {"price": price(value), "size": 0, "timestamp": timestamp_ns(now)}
    seed = _stable(instrument.symbol)
    size = 1 + seed % 10 if instrument.is_option else 100
    return {
        "price": price(value),
        "size": size,
        "venue": "XCBO" if instrument.is_option else "XNAS",
        "timestamp": timestamp_ns(now),
    }


def _latest_session_date(now: datetime) -> date:
    """The date of the latest regular session that has opened (today once it opened)."""
    local = new_york(now)
    session = regular_session(local.date())
    if session is not None and local >= session[0]:
        return local.date()
    return previous_business_day(local.date())


def cumulative_volume(instrument: SimInstrument) -> int:
    seed = _stable(f"volume:{instrument.symbol}")
    return 100 + seed % 5_000 if instrument.is_option else 1_000_000 + seed % 49_000_000


def open_interest(instrument: SimInstrument) -> int:
    return 500 + _stable(f"open-interest:{instrument.symbol}") % 20_000


def _session(instrument: SimInstrument, now: datetime) -> dict[str, Any]:
    value, close = instrument.instrument_price, instrument.closing_price
    has_bars = instrument.instrument_type not in (SecurityType.INDEX, SecurityType.CASH)
    session: dict[str, Any] = {"ohlv_applicable": has_bars}
    bands = tick_rules(instrument)
    if has_bars and value is not None and bands is not None:
        reference = close if close is not None else value
        opening = _to_grid(reference + (value - reference) * Decimal("0.4"), bands, ROUND_FLOOR)
        tick = tick_at(value, bands)
        high = _to_grid(max(opening, value) + 3 * tick, bands, ROUND_CEILING)
        low = max(tick, _to_grid(min(opening, value) - 3 * tick, bands, ROUND_FLOOR))
        session |= {
            "open": price(opening),
            "high": price(high),
            "low": price(low),
            "ohlv_date": _latest_session_date(now).isoformat(),
            "cumulative_volume": cumulative_volume(instrument),
        }
    if close is not None:
        session["previous_close"] = price(close)
        if value is not None:
            change = value - close
            session["change"] = price(change)
            percent = change * 100 / close if close else Decimal(0)
            session["change_percent"] = plain(percent.quantize(_PERCENT_STEP, rounding=ROUND_HALF_EVEN))
    return session


def greeks(instrument: SimInstrument, now: datetime) -> dict[str, Any] | None:
    """The snapshot greeks of an option (None when unobserved or not computable)."""
    contract, underlying = instrument.option, instrument.underlying
    if contract is None or underlying is None or not instrument.greeks_observed:
        return None
    spot, volatility = underlying.instrument_price, underlying.volatility
    if spot is None or spot <= 0 or volatility is None or volatility <= 0 or contract.strike <= 0:
        return None
    years = (settlement_instant(instrument) - now).total_seconds() / _SECONDS_PER_YEAR
    result = black_scholes(spot, contract.strike, years, volatility, is_call=contract.is_call)
    return {
        "theo_price": plain(result.theo_price),
        "delta": plain(result.delta),
        "gamma": plain(result.gamma),
        "theta": plain(result.theta),
        "vega": plain(result.vega),
        "rho": plain(result.rho),
        "iv": "0",
        "timestamp": timestamp_ns(now),
    }


def snapshot_row(instrument: SimInstrument, now: datetime) -> dict[str, Any]:
    session = _session(instrument, now)
    return {
        "instrument_id": instrument.instrument_id,
        "symbol": instrument.instruction_symbol if instrument.is_option else instrument.symbol,
        "name": instrument.name,
        "short_sale_restricted": False if instrument.instrument_type is SecurityType.COMMON_STOCK else None,
        "last_quote": _quote(instrument, now),
        "last_trade": _last_trade(instrument, now),
        "session": session,
        "cumulative_volume": session.get("cumulative_volume"),
        "greeks": greeks(instrument, now),
        "open_interest": open_interest(instrument) if instrument.is_option else None,
    }


def snapshot_rows(instruments: Iterable[SimInstrument], now: datetime) -> list[dict[str, Any]]:
    """One row per distinct instrument, in first-seen order."""
    seen: set[str] = set()
    rows = []
    for instrument in instruments:
        if instrument.instrument_id not in seen:
            seen.add(instrument.instrument_id)
            rows.append(snapshot_row(instrument, now))
    return rows


# -------------------------------------------------------------------------------- option contracts


def contract_row(instrument: SimInstrument, now: datetime) -> dict[str, Any]:
    contract, underlying = instrument.option, instrument.underlying
    assert contract is not None
    bands = tick_rules(instrument)
    return {
        "id": instrument.instrument_id,
        "symbol": contract.padded(),
        "underlying_instrument_id": underlying.instrument_id if underlying is not None else None,
        "contract_type": contract.right.value,
        "strike_price": plain(contract.strike.normalize()),
        "expiry": contract.expiry.isoformat(),
        "multiplier": plain(instrument.multiplier.normalize()),
        "exercise_style": instrument.exercise_style.value,
        "listing_type": ListingType.STANDARD.value,
        "is_settle_on_open": instrument.settles_on_open,
        "last_trade_cutoff": timestamp_s(last_trade_cutoff(instrument)),
        "currency": CURRENCY,
        "exchange": instrument.venue,
        "is_tradable": is_tradable(instrument, now),
        "is_liquidation_only": False,
        "is_marginable": True,
        "open_interest": open_interest(instrument),
        "tick_rules": [band.to_wire() for band in bands] if bands is not None else None,
    }


def contract_sort_key(instrument: SimInstrument) -> tuple[Any, ...]:
    contract = instrument.option
    assert contract is not None
    return (contract.expiry, contract.root, contract.right.value, contract.strike, instrument.instrument_id)


def root_matches(instrument: SimInstrument, root: str) -> bool:
    """Whether the contract's OSI root is ``root``; an index root also covers its weekly series
    (``SPX`` includes ``SPXW``)."""
    contract = instrument.option
    assert contract is not None
    wanted = root.strip().upper()
    return contract.root == wanted or (wanted in _INDEX_ROOTS and contract.root == f"{wanted}W")


# ------------------------------------------------------------------------------------ instruments


def expiry_dates(state: SimulatorState, underlying: SimInstrument, now: datetime) -> list[dict[str, Any]]:
    """The option expiry dates of ``underlying`` that still have a tradable contract."""
    by_date: dict[date, list[SimInstrument]] = {}
    for contract in state.instruments.options_on(underlying):
        assert contract.option is not None
        by_date.setdefault(contract.option.expiry, []).append(contract)
    rows = []
    for day in sorted(by_date):
        contracts = by_date[day]
        tradable = [c for c in contracts if is_tradable(c, now)]
        if not tradable:
            continue
        rows.append(
            {
                "date": day.isoformat(),
                "has_settles_on_close": any(not c.settles_on_open for c in contracts),
                "has_settles_on_open": any(c.settles_on_open for c in tradable),
            }
        )
    return rows


def instrument_row(
    state: SimulatorState, instrument: SimInstrument, now: datetime, *, include_expiry_dates: bool
) -> dict[str, Any]:
    kind = instrument.instrument_type
    equity = kind is SecurityType.COMMON_STOCK
    bands = tick_rules(instrument)
    close = instrument.closing_price
    adv: Decimal | None = None
    if equity:
        adv = Decimal(cumulative_volume(instrument))
    row: dict[str, Any] = {
        "id": instrument.instrument_id,
        "symbol": instrument.instruction_symbol if instrument.is_option else instrument.symbol,
        "name": instrument.name,
        "instrument_type": kind.value,
        "venue": instrument.venue,
        "country_of_issue": COUNTRY,
        "currency": CURRENCY,
        "is_tradable": is_tradable(instrument, now),
        "is_liquidation_only": False,
        "is_marginable": equity or instrument.is_option,
        "is_fractionable": equity,
        "is_ptp": False,
        "is_short_prohibited": not equity and not instrument.is_option,
        "is_threshold_security": False,
        "easy_to_borrow": equity,
        "shortable_attribute": ShortableAttribute.EASY_TO_BORROW.value if equity else None,
        "not_shortable_reasons": None,
        "long_margin_rate": plain(LONG_STOCK_MAINTENANCE) if equity else None,
        "short_margin_rate": plain(SHORT_STOCK_MAINTENANCE) if equity else None,
        "previous_close": optional_price(close),
        "cax_adjusted_previous_close": None,
        "adv": plain(adv) if adv is not None else None,
        "notional_adv": cents(adv * close) if adv is not None and close is not None else None,
        "tick_rules": [band.to_wire() for band in bands] if bands is not None else None,
    }
    if include_expiry_dates:
        dates = [] if instrument.is_option else expiry_dates(state, instrument, now)
        row["options_contract_expiry_dates"] = dates
        row["options_expiry_dates"] = [entry["date"] for entry in dates]
    return row
