"""``Simulator``: the handle tests, benchmarks and the embedded backend hold on to."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx

from ..clearstreet.market_models import ExerciseStyle
from ..clearstreet.models import InstructionStatus, InstructionType
from ..domain.osi import parse_osi
from .accounts import Account
from .asgi import SimulatedApi
from .book import DemoDates, build_demo_book
from .faults import Faults
from .generated_accounts import add_generated_account
from .instruction_lifecycle import CLEARING_DOMAIN, Rejection, place_instruction
from .position_rows import position_rows
from .simulated_time import SimulatedClock, to_timedelta
from .state import SimulatorState, Timings

logger = logging.getLogger(__name__)
_UNCHANGED = object()


class Simulator:
    """A simulated Clear Street positions API with the demo book loaded.

    ``now``: None follows the real clock; an aware datetime freezes simulated time there until
    ``set_now``/``advance`` move it. ``api_keys``: None accepts any non-empty bearer key; a mapping
    ``{key: {account ids}}`` accepts only those keys (401 otherwise), each on its accounts (403
    otherwise). ``latency``: seconds added before every response. ``exercise_cutoff``: a broker
    cutoff (New York wall time) on a contract's expiration business day; the cutoff applied is the
    earlier of it and FINRA's (``domain.calendar.exercise_cutoff``: 17:30 ET, 14:30 ET on an
    early-close day); None applies FINRA's alone. ``timings``: delays of the lifecycle transitions
    (see ``order_lifecycle`` and ``instruction_lifecycle``).
    """

    def __init__(
        self,
        seed: int = 0,
        now: datetime | None = None,
        api_keys: Mapping[str, Iterable[int]] | None = None,
        latency: float = 0.0,
        exercise_cutoff: time | None = None,
        *,
        timings: Timings | None = None,
    ) -> None:
        self.seed = seed
        self._clock = SimulatedClock(now)
        self._state = SimulatorState(
            seed=seed, clock=self._clock, exercise_cutoff=exercise_cutoff, timings=timings or Timings()
        )
        self.latency = latency
        self.faults = Faults()
        keys = None if api_keys is None else {key: frozenset(ids) for key, ids in api_keys.items()}
        self.dates: DemoDates = build_demo_book(self._state)
        """The dates the demo book was built around (today, next expiry, monthly expiry)."""
        self.app = SimulatedApi(self._state, self.faults, api_keys=keys, latency=lambda: self._latency)

    # ------------------------------------------------------------------ HTTP

    def transport(self) -> httpx.ASGITransport:
        """An in-process transport: ``httpx.AsyncClient(base_url="http://simulator", transport=...)``."""
        return httpx.ASGITransport(app=self.app)

    @property
    def latency(self) -> float:
        """Seconds added before every response (settable)."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must not be negative")
        self._latency = seconds

    # ------------------------------------------------------------------ time

    def now(self) -> datetime:
        """The current simulated instant (aware, UTC). Usable as a ``domain.calendar.Clock``."""
        return self._clock.now()

    def set_now(self, instant: datetime) -> None:
        """Freeze simulated time at ``instant`` and run the transitions due by then."""
        with self._state.lock:
            self._clock.set(instant)
            self._state.catch_up()

    def advance(self, seconds: float | int | Decimal | timedelta) -> datetime:
        """Move simulated time forward and run the transitions due by then; returns the new now."""
        with self._state.lock:
            self._clock.advance(to_timedelta(seconds))
            self._state.catch_up()
            return self._clock.now()

    def settle(self) -> datetime:
        """Move simulated time to the last pending transition (orders waiting for the market to
        open included) and run them all; returns the new now. Pending work is finite: a settled
        simulator has no scheduled transition left."""
        with self._state.lock:
            self._state.catch_up()
            while (due := self._state.scheduler.next_due()) is not None:
                if due > self._clock.now():
                    self._clock.move_to(due)
                self._state.catch_up()
            return self._clock.now()

    @property
    def pending_transitions(self) -> int:
        """How many lifecycle transitions are scheduled and not yet due."""
        with self._state.lock:
            return len(self._state.scheduler)

    # -------------------------------------------------------------- accounts

    @property
    def accounts(self) -> list[int]:
        with self._state.lock:
            return sorted(self._state.accounts)

    def add_generated_account(self, account_id: int, positions: int = 10_000, seed: int = 1) -> None:
        """Add a large deterministic account (equities and options, longs and shorts) for
        benchmarks and paging tests. Its instruments are registered like the demo's."""
        with self._state.lock:
            add_generated_account(self._state, account_id, positions, seed)
        logger.info("generated account %s with %d positions (seed %d)", account_id, positions, seed)

    # ------------------------------------------------------------ inspection

    def positions(self, account_id: int) -> list[dict[str, Any]]:
        """Every position of the account as wire rows, in symbol order (no paging, no auth)."""
        with self._state.lock:
            self._state.catch_up()
            account = self._state.accounts[account_id]
            return position_rows(self._state, account, account.in_symbol_order())

    def orders(self, account_id: int | None = None) -> list[dict[str, Any]]:
        """Orders as wire rows (the demo's resting order and every closing order), oldest first."""
        with self._state.lock:
            self._state.catch_up()
            accounts = self._selected(account_id)
            return [order.to_wire() for account in accounts for order in account.orders]

    def instructions(self, account_id: int | None = None) -> list[dict[str, Any]]:
        """Persisted position instructions as wire rows, oldest first."""
        with self._state.lock:
            self._state.catch_up()
            accounts = self._selected(account_id)
            return [row.to_wire() for account in accounts for row in account.instructions]

    def _selected(self, account_id: int | None) -> list[Account]:
        state = self._state
        if account_id is None:
            return [state.accounts[key] for key in sorted(state.accounts)]
        return [state.accounts[account_id]]

    def quote(self, identifier: str) -> Decimal | None:
        """An instrument's current price (None: no quote); ``KeyError`` for an unknown one."""
        with self._state.lock:
            instrument = self._state.instruments.resolve(identifier)
            if instrument is None:
                raise KeyError(f"unknown instrument {identifier!r}")
            return instrument.instrument_price

    # ----------------------------------------------------------------- knobs

    def set_instrument_price(
        self,
        identifier: str,
        instrument_price: Decimal | str | None,
        closing_price: Decimal | str | object | None = _UNCHANGED,
    ) -> None:
        """Set an instrument's current price (None: no quote) and optionally its last close.
        ``identifier`` is a UUID, ticker or OSI symbol."""
        with self._state.lock:
            instrument = self._state.instruments.resolve(identifier)
            if instrument is None:
                raise KeyError(f"unknown instrument {identifier!r}")
            instrument.instrument_price = None if instrument_price is None else Decimal(str(instrument_price))
            if closing_price is not _UNCHANGED:
                instrument.closing_price = None if closing_price is None else Decimal(str(closing_price))

    def hold_option(
        self,
        account_id: int,
        symbol: str,
        quantity: Decimal | str,
        average_price: Decimal | str,
        *,
        price: Decimal | str | None,
        closing_price: Decimal | str | None = None,
        underlying: str | None = None,
        exercise_style: ExerciseStyle = ExerciseStyle.AMERICAN,
        settles_on_open: bool = False,
        cash_settled: bool = False,
    ) -> str:
        """Put an option position (signed ``quantity``; < 0 written) in an account's book, the
        contract ``symbol`` (OSI) created if new on ``underlying`` (a ticker or id; default: the
        OSI root) with these terms, e.g. an AM-settled, cash-settled index option. The account's
        start of day is marked again. Returns the contract's instrument id."""
        option = parse_osi(symbol)
        current = None if price is None else Decimal(str(price))
        close = current if closing_price is None else Decimal(str(closing_price))
        with self._state.lock:
            registry = self._state.instruments
            underlier = registry.resolve(underlying or option.root)
            if underlier is None:
                raise KeyError(f"unknown underlier {underlying or option.root!r}")
            contract = registry.resolve(symbol) or registry.option(
                underlier,
                option.expiry,
                option.right,
                option.strike,
                current,
                close,
                root=option.root,
                exercise_style=exercise_style,
                settles_on_open=settles_on_open,
                cash_settled=cash_settled,
            )
            account = self._state.accounts[account_id]
            self._state.hold(account, contract, Decimal(str(quantity)), Decimal(str(average_price)))
            self._state.mark_start_of_day(account)
            return contract.instrument_id

    def place_instruction(
        self,
        account_id: int,
        instrument: str,
        instruction_type: InstructionType | str,
        quantity: Decimal | str | int,
        status: InstructionStatus | str = InstructionStatus.SENT,
        *,
        client_instruction_id: str | None = None,
    ) -> dict[str, Any]:
        """Record an instruction on ``instrument`` (a UUID, ticker or OSI symbol) in any status, as
        the book stands (no validation, no transition scheduled; an ACCEPTED EXERCISE is delivered).
        Returns its wire row."""
        with self._state.lock:
            found = self._state.instruments.resolve(instrument)
            if found is None or found.option is None:
                raise KeyError(f"unknown option {instrument!r}")
            row = place_instruction(
                self._state,
                account_id,
                found,
                InstructionType(instruction_type),
                Decimal(str(quantity)),
                InstructionStatus(status),
                client_instruction_id,
            )
            return row.to_wire()

    def reject_next_instructions(
        self,
        count: int = 1,
        *,
        reason: str = "CLEARING_REJECTED",
        description: str = "Rejected by clearing",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``count`` SENT instructions that clearing decides on end REJECTED (domain
        ``com.clearstreet.oems.clearing``) instead of ACCEPTED."""
        if count < 1:
            raise ValueError("count must be at least 1")
        rejection = Rejection(reason, CLEARING_DOMAIN, description, dict(metadata or {}))
        with self._state.lock:
            self._state.clearing_rejections.extend([rejection] * count)
