"""What expiry settles (cash and shares) with the instructions in force, and pin risk. Pure, no I/O.

The one model of what an exercise, an assignment or an expiry moves. The exposure summary
(:mod:`.exposure`) and the exercise preview's cash check (:mod:`.cash_check`) both call it, so
their figures agree.

**What one exercised or assigned contract moves** (:func:`exercise_flow`):

* **Physically settled** (OCC Rules, Chapter VIII exercise and assignment, Chapter IX delivery and
  payment; the aggregate exercise price is the strike times the multiplier, and an adjusted
  contract's deliverable is set by OCC By-Laws Article VI, Section 11A, :mod:`.contracts`):

  - a long call exercised **pays** contracts × multiplier × strike and **receives**
    contracts × deliverable shares;
  - a long put exercised **delivers** contracts × deliverable shares and **receives**
    contracts × multiplier × strike (without the shares in the account it opens a short);
  - a short call assigned delivers the shares and receives the aggregate strike;
  - a short put assigned receives the shares and pays the aggregate strike.

* **Cash-settled** (index options, OCC Rules 1601 ff.): no shares move; the holder receives and the
  writer pays the exercise settlement amount, the intrinsic value × multiplier
  (:func:`.expiry.intrinsic_per_contract`). At the current price this is an **estimate**: the
  settlement value is fixed at expiry (for AM-settled series, from the opening prints).

Nothing can be said (the contracts are *uncertain*) without the contract's terms (an adjusted
contract whose deliverable is not confirmed, :mod:`.contracts`) or, for a cash-settled one, a level.

**What expiry does to a position** (:func:`settle`): the default (:func:`.expiry.default_at_expiry`,
OCC Rule 805(d) exercise by exception) unless an instruction in force says otherwise: contrary
instructions submitted to OCC override exercise by exception (OCC Rule 805; the API's types,
Clear Street's API documentation):

* EXERCISE exercises its contracts (before expiry, or at expiry whatever the price);
* DO_NOT_EXERCISE keeps its contracts from being exercised;
* CONTRARY_EXERCISE does the opposite of the default (:func:`instruction_exercises`): it exercises
  a contract that would lapse and stops one that would be exercised.

Instructions apply to a long position's contracts in the order given, never to more than it
holds; the contracts no instruction covers take the default. Auto-exercise and likely assignment
settle; ASSIGNMENT_POSSIBLE and UNKNOWN are uncertain; LAPSE moves nothing. Which instructions are
in force (:func:`instructed`): every one that still covers its contracts
(:func:`holds_contracts`): SENT, ACCEPTED (a DO_NOT_EXERCISE or CONTRARY_EXERCISE stays in
force until expiry), CANCEL_REQUESTED (a cancel asked for is not a cancel done: the instruction
stands until it is CANCELLED, Clear Street's API documentation) and CANCEL_FAILED (the instruction stands). REJECTED,
CANCELLED and unpersisted rows are not, nor an ACCEPTED EXERCISE: its contracts have left the
position and its cash and shares are in the positions and balances. An instruction whose status is
UNKNOWN (or one this server does not know) may or may not stand: its contracts are uncertain.

**Counted cash** (:class:`Ledger`, one rule for both places): every payment counts (an aggregate
strike paid; a cash-settled amount paid, at its estimate), and only the receipts that are certain.
What delivering shares the account does not have raises is a short sale's proceeds: collateral for
the short in a margin account, not cash to pay with (Regulation T, 12 CFR 220.4), so it is named
apart (:func:`short_sale_proceeds`). The shares the account has are its free shares now
(:func:`free_shares`: held and not committed to working orders) plus those the same settlement
brings in. A cash-settled receipt is an estimate until the settlement value is fixed: named apart,
not counted.

**Pin risk** (a decision of this server, stated once): an expiring, physically settled option is
*pinned* when its underlier is within :data:`PIN_RISK_PCT` % of the strike or :data:`PIN_RISK_MIN`
a share, whichever is larger (measured per deliverable share, :func:`.expiry.in_the_money_by`).
Near the strike, whether it is exercised or assigned can go either way with the last prints and the
holders' contrary instructions, so the shares the account ends up with are uncertain over the
weekend. Cash-settled options are never pinned: they deliver no shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import MAX_PREC, ROUND_HALF_EVEN, Context, Decimal
from typing import Literal, NamedTuple

from ..clearstreet.models import InstructionStatus, InstructionType, Position, PositionInstruction
from .contracts import ContractTerms
from .expiry import DefaultAtExpiry, default_at_expiry, in_the_money_by, intrinsic_per_contract
from .numbers import CENT
from .osi import OptionSymbol
from .text import qty

FINISHED_INSTRUCTION_STATUSES = frozenset(
    {InstructionStatus.REJECTED, InstructionStatus.CANCELLED, InstructionStatus.ENGINE_REJECTED}
)
"""Instruction statuses that no longer hold their contracts (the API's lifecycle: rejected or cancelled)."""


def holds_contracts(instruction: PositionInstruction) -> bool:
    """Whether an instruction still covers its contracts: persisted (not the nil UUID) and not
    finished. Finished = REJECTED, CANCELLED, ENGINE_REJECTED, or an ACCEPTED EXERCISE (those
    contracts are exercised and leave the position). SENT and CANCEL_REQUESTED hold, so do
    CANCEL_FAILED (the instruction stands), UNKNOWN and unrecognised statuses (fail closed), and
    ACCEPTED DO_NOT_EXERCISE / CONTRARY_EXERCISE (in force until expiry)."""
    if not instruction.persisted or instruction.status in FINISHED_INSTRUCTION_STATUSES:
        return False
    return not (
        instruction.status == InstructionStatus.ACCEPTED and instruction.instruction_type == InstructionType.EXERCISE
    )


__all__ = [
    "FINISHED_INSTRUCTION_STATUSES",
    "IN_FORCE_STATUSES",
    "PIN_RISK_MIN",
    "PIN_RISK_PCT",
    "SOURCES",
    "ExpiryFlow",
    "Instructed",
    "Ledger",
    "Outcome",
    "Settled",
    "Source",
    "exercise_flow",
    "free_shares",
    "holds_contracts",
    "instructed",
    "instruction_exercises",
    "is_pinned",
    "pin_threshold",
    "settle",
    "short_sale_proceeds",
]

PIN_RISK_PCT = Decimal(1)
"""Pin risk: the underlier within this many percent of the strike (or :data:`PIN_RISK_MIN`)."""
PIN_RISK_MIN = Decimal("0.50")
"""Pin risk: the underlier within this many dollars a share of the strike, at least."""
_ZERO = Decimal(0)
_EXACT = Context(prec=MAX_PREC)  # the products below are never rounded, whatever the caller's context
_DIVIDE = Context(prec=34)  # a share of an amount: wide enough for the cent, whatever the caller's context

IN_FORCE_STATUSES = frozenset(
    {
        InstructionStatus.SENT,
        InstructionStatus.ACCEPTED,
        InstructionStatus.CANCEL_REQUESTED,
        InstructionStatus.CANCEL_FAILED,
    }
)
"""Statuses of an instruction that stands (module docstring); any other one that still holds its
contracts (UNKNOWN, unrecognised) leaves them uncertain."""

Source = Literal["sent", "expiry", "batch"]
"""What makes a settlement happen: an instruction already sent, expiry's default, or the batch a
preview is about to send."""
SOURCES: tuple[Source, ...] = ("sent", "expiry", "batch")
"""In this order the shares the account has cover deliveries (:meth:`Ledger.proceeds`): what is
already under way first, so the batch's figure is what the batch adds."""


class ExpiryFlow(NamedTuple):
    """What one position's settlement moves (totals for the position, not per contract).

    ``cash_out`` / ``cash_in``: aggregate strikes paid / received (physical delivery, ≥ 0).
    ``cash_settled``: exercise settlement amount of a cash-settled option, received (> 0) or paid
    (< 0), an estimate at the given price. ``shares``: shares received (> 0) or delivered (< 0).
    A named tuple: a large book's expiring options make many of them."""

    cash_out: Decimal = _ZERO
    cash_in: Decimal = _ZERO
    cash_settled: Decimal = _ZERO
    shares: Decimal = _ZERO


NOTHING = ExpiryFlow()


def exercise_flow(
    contracts: Decimal, symbol: OptionSymbol, terms: ContractTerms | None, underlier_price: Decimal | None
) -> ExpiryFlow | None:
    """What ``contracts`` contracts of ``symbol`` move: > 0 long contracts exercised, < 0 short
    ones assigned (module docstring). None when it cannot be said: no terms (deliverable not
    confirmed), or a cash-settled contract without a level."""
    if terms is None:
        return None
    long = contracts > 0
    count = abs(contracts)
    if terms.settlement == "CASH":
        if underlier_price is None:
            return None
        amount = _EXACT.multiply(count, intrinsic_per_contract(symbol, underlier_price, terms))
        return ExpiryFlow(cash_settled=amount if long else -amount)
    aggregate_strike = _EXACT.multiply(_EXACT.multiply(count, terms.multiplier), symbol.strike)
    shares = _EXACT.multiply(count, terms.deliverable_shares)
    # Receiving shares: long call exercised, short put assigned. Delivering: the other two.
    if symbol.is_call == long:
        return ExpiryFlow(cash_out=aggregate_strike, shares=shares)
    return ExpiryFlow(cash_in=aggregate_strike, shares=-shares)


class Instructed(NamedTuple):
    """An instruction as the model applies it (:func:`instructed`); ``certain``: False when its
    status does not say whether it stands."""

    id: str
    kind: str
    quantity: Decimal
    status: str
    symbol: str
    source: Source = "sent"
    certain: bool = True


def instructed(instruction: PositionInstruction, source: Source = "sent") -> Instructed | None:
    """``instruction`` as the model applies it, or None when it is not in force (module docstring)."""
    if not holds_contracts(instruction):
        return None
    return Instructed(
        instruction.id,
        str(instruction.instruction_type),
        instruction.quantity,
        str(instruction.status),
        instruction.symbol,
        source,
        instruction.status in IN_FORCE_STATUSES,
    )


def instruction_exercises(kind: str, default: DefaultAtExpiry | None) -> bool | None:
    """Whether an instruction of ``kind`` exercises its contracts, the default at expiry being
    ``default`` (None: not expiring): EXERCISE yes, DO_NOT_EXERCISE no, CONTRARY_EXERCISE the
    opposite of the default (None when that is unknown, or for a type this server does not know)."""
    if kind == InstructionType.EXERCISE:
        return True
    if kind == InstructionType.DO_NOT_EXERCISE:
        return False
    if kind == InstructionType.CONTRARY_EXERCISE:
        return {DefaultAtExpiry.AUTO_EXERCISE: False, DefaultAtExpiry.LAPSE: True}.get(default)  # type: ignore[arg-type]
    return None


class Settled(NamedTuple):
    """Contracts that settle: > 0 exercised, < 0 assigned; what makes it happen; what it moves."""

    source: Source
    contracts: Decimal
    flow: ExpiryFlow


class Outcome(NamedTuple):
    """What expiry (and the instructions) do to one option position (:func:`settle`)."""

    default: DefaultAtExpiry | None
    settled: tuple[Settled, ...] = ()
    stopped: Decimal = _ZERO
    """Long contracts an instruction keeps from being exercised."""
    uncertain: Decimal = _ZERO
    """Contracts whose outcome cannot be said: left out of every figure."""
    applied: tuple[tuple[Instructed, Decimal, bool | None], ...] = ()
    """The instructions that bear on the position: each with the contracts it covers and whether
    it exercises them (None: cannot be said)."""

    @property
    def covered(self) -> Decimal:
        """The contracts the instructions in ``applied`` cover (the rest follow the default)."""
        return sum((covered for _, covered, _ in self.applied), _ZERO)

    def instructions_in_words(self) -> list[str]:
        """Each instruction in ``applied`` and what it does, the one wording the summary's rows and a
        blocked close share: ``4 not exercised (DO_NOT_EXERCISE 4 ACCEPTED <id>)``."""
        return [
            f"{qty(covered)} {_EFFECT[does]} ({row.kind} {qty(row.quantity)} {row.status} {row.id})"
            for row, covered, does in self.applied
        ]


_EFFECT = {True: "exercised", False: "not exercised", None: "outcome unknown"}


def settle(
    quantity: Decimal,
    symbol: OptionSymbol,
    terms: ContractTerms | None,
    price: Decimal | None,
    instructions: Iterable[Instructed] = (),
    *,
    expires: bool = True,
) -> Outcome:
    """What ``quantity`` contracts (signed) of ``symbol`` settle with ``instructions`` in force on
    them (module docstring). ``terms`` None: the deliverable is not confirmed. ``expires`` False:
    the position does not expire in the period looked at; only its EXERCISE instructions settle."""
    if quantity < 0:
        return _settle_short(quantity, symbol, terms, price, expires=expires)
    default = _default(True, symbol, price, terms) if expires else None
    long = _LongSettlement(symbol, terms, price)
    left = long.instruct(quantity, instructions, default, expires=expires)
    if left > 0 and default is DefaultAtExpiry.AUTO_EXERCISE:
        long.exercise("expiry", left)
    elif left > 0 and default is DefaultAtExpiry.UNKNOWN:
        long.uncertain += left
    return Outcome(default, tuple(long.settled), long.stopped, long.uncertain, tuple(long.applied))


def _default(long: bool, symbol: OptionSymbol, price: Decimal | None, terms: ContractTerms | None) -> DefaultAtExpiry:
    """The default at expiry, UNKNOWN without confirmed terms."""
    return default_at_expiry(long, symbol, price, terms) if terms is not None else DefaultAtExpiry.UNKNOWN


def _settle_short(
    quantity: Decimal, symbol: OptionSymbol, terms: ContractTerms | None, price: Decimal | None, *, expires: bool
) -> Outcome:
    """A short position: no instruction bears on it (exercise is the holder's decision, the writer is
    assigned: OCC Rules, Chapter VIII); it settles when assignment is likely."""
    if not expires:
        return Outcome(None)
    short = _default(False, symbol, price, terms)
    if short is DefaultAtExpiry.LAPSE:
        return Outcome(short)
    flow = exercise_flow(quantity, symbol, terms, price) if short is DefaultAtExpiry.ASSIGNMENT_LIKELY else None
    if flow is None:
        return Outcome(short, uncertain=-quantity)
    return Outcome(short, (Settled("expiry", quantity, flow),))


class _LongSettlement:
    """What a long position's contracts do, gathered as the instructions are applied."""

    __slots__ = ("applied", "price", "settled", "stopped", "symbol", "terms", "uncertain")

    def __init__(self, symbol: OptionSymbol, terms: ContractTerms | None, price: Decimal | None) -> None:
        self.symbol, self.terms, self.price = symbol, terms, price
        self.settled: list[Settled] = []
        self.applied: list[tuple[Instructed, Decimal, bool | None]] = []
        self.stopped = _ZERO
        self.uncertain = _ZERO

    def exercise(self, source: Source, contracts: Decimal) -> None:
        flow = exercise_flow(contracts, self.symbol, self.terms, self.price)
        if flow is None:
            self.uncertain += contracts
        else:
            self.settled.append(Settled(source, contracts, flow))

    def instruct(
        self, quantity: Decimal, instructions: Iterable[Instructed], default: DefaultAtExpiry | None, *, expires: bool
    ) -> Decimal:
        """Apply ``instructions`` in order to ``quantity`` contracts, never to more than are left;
        returns the contracts none covers."""
        left = quantity
        for instruction in instructions:
            if not expires and instruction.kind != InstructionType.EXERCISE:
                continue  # DO_NOT_EXERCISE / CONTRARY_EXERCISE act at expiry only
            covered = min(instruction.quantity, left)
            if covered <= 0:
                continue
            left -= covered
            does = instruction_exercises(instruction.kind, default) if instruction.certain else None
            self.applied.append((instruction, covered, does))
            if does is None:
                self.uncertain += covered
            elif does:
                self.exercise(instruction.source, covered)
            else:
                self.stopped += covered
        return left


def free_shares(position: Position | None) -> Decimal:
    """Shares of an underlier the account can deliver now: its long quantity less what working
    orders hold (``available_quantity``, never more than held); 0 for no position or a short."""
    if position is None or position.quantity <= 0:
        return _ZERO
    return max(min(abs(position.available_quantity), position.quantity), _ZERO)


def short_sale_proceeds(cover: Decimal, delivered: Decimal, received: Decimal) -> Decimal:
    """Of ``received`` (the aggregate strikes for delivering ``delivered`` shares), the part raised
    by the shares beyond ``cover`` (those the account has): a short sale's proceeds, collateral for
    the short, not cash to pay with (Regulation T, 12 CFR 220.4). In proportion to the shares,
    rounded to the cent (half-even) when it is not all or nothing."""
    if delivered <= 0 or received <= 0:
        return _ZERO
    short = delivered - max(cover, _ZERO)
    if short <= 0:
        return _ZERO
    if short >= delivered:
        return received
    return _DIVIDE.divide(_DIVIDE.multiply(received, short), delivered).quantize(CENT, rounding=ROUND_HALF_EVEN)


class _Moves:
    """One underlier's share moves in one settlement, by source: [received, delivered, cash for
    the delivered ones]."""

    __slots__ = ("by_source",)

    def __init__(self) -> None:
        self.by_source: dict[Source, list[Decimal]] = {}

    def received(self) -> Decimal:
        return sum((m[0] for m in self.by_source.values()), _ZERO)

    def net(self) -> Decimal:
        return sum((m[0] - m[1] for m in self.by_source.values()), _ZERO)


class Ledger:
    """The sums of one settlement by source (:data:`SOURCES`), and by underlier what it delivers,
    so the short-sale rule sees every share of the settlement at once. Exact sums."""

    __slots__ = ("_cash", "_moves")

    def __init__(self) -> None:
        self._cash: dict[Source, list[Decimal]] = {}  # [cash_out, cash_in, settled received, settled paid]
        self._moves: dict[str, _Moves] = {}

    def add(self, underlier: str, source: Source, flow: ExpiryFlow) -> None:
        cash = self._cash.get(source)
        if cash is None:
            cash = self._cash[source] = [_ZERO, _ZERO, _ZERO, _ZERO]
        add = _EXACT.add
        cash[0], cash[1] = add(cash[0], flow.cash_out), add(cash[1], flow.cash_in)
        if flow.cash_settled > 0:
            cash[2] = add(cash[2], flow.cash_settled)
        elif flow.cash_settled < 0:
            cash[3] = add(cash[3], -flow.cash_settled)
        if flow.shares:
            moves = self._moves.get(underlier)
            if moves is None:
                moves = self._moves[underlier] = _Moves()
            sums = moves.by_source.setdefault(source, [_ZERO, _ZERO, _ZERO])
            if flow.shares > 0:
                sums[0] = add(sums[0], flow.shares)
            else:
                sums[1], sums[2] = add(sums[1], -flow.shares), add(sums[2], flow.cash_in)

    def totals(self, *sources: Source) -> ExpiryFlow:
        """Cash out and in, net cash-settled estimate, of ``sources`` (all when none given)."""
        picked = [self._cash[s] for s in sources or SOURCES if s in self._cash]
        return ExpiryFlow(
            cash_out=sum((c[0] for c in picked), _ZERO),
            cash_in=sum((c[1] for c in picked), _ZERO),
            cash_settled=sum((c[2] - c[3] for c in picked), _ZERO),
        )

    def settled_received(self, source: Source) -> Decimal:
        """The cash-settled estimate ``source`` receives: named apart, not counted."""
        cash = self._cash.get(source)
        return cash[2] if cash is not None else _ZERO

    def shares(self) -> dict[str, Decimal]:
        """Net shares by underlier: received (> 0) or delivered (< 0); underliers that net to 0 too."""
        return {key: moves.net() for key, moves in self._moves.items()}

    def proceeds(self, cover: Callable[[str], Decimal]) -> dict[Source, Decimal]:
        """Short-sale proceeds by source: the shares an underlier has (``cover(key)``, plus every
        share the settlement brings in) cover its deliveries in the order of :data:`SOURCES`."""
        out: dict[Source, Decimal] = {}
        for key, moves in self._moves.items():
            has = _EXACT.add(max(cover(key), _ZERO), moves.received())
            for source in SOURCES:
                sums = moves.by_source.get(source)
                if sums is None or not sums[1]:
                    continue
                part = short_sale_proceeds(has, sums[1], sums[2])
                has = max(_ZERO, has - sums[1])
                if part:
                    out[source] = _EXACT.add(out.get(source, _ZERO), part)
        return out

    def counted(self, source: Source, proceeds: Decimal) -> Decimal:
        """The cash ``source`` moves that a cash figure counts (module docstring): received less
        short-sale ``proceeds``, less paid, less a cash-settled payment at its estimate."""
        cash = self._cash.get(source)
        if cash is None:
            return _ZERO
        return _EXACT.subtract(_EXACT.subtract(_EXACT.subtract(cash[1], proceeds), cash[0]), cash[3])


def pin_threshold(symbol: OptionSymbol, terms: ContractTerms | None = None) -> Decimal:
    """The distance (per deliverable share) within which ``symbol`` is pinned: the larger of
    :data:`PIN_RISK_PCT` % of the strike per deliverable share and :data:`PIN_RISK_MIN`."""
    strike = symbol.strike
    if terms is not None and terms.settlement == "PHYSICAL" and terms.deliverable_shares != terms.multiplier:
        strike = terms.multiplier * strike / terms.deliverable_shares
    return max((strike * PIN_RISK_PCT).scaleb(-2), PIN_RISK_MIN)


def is_pinned(symbol: OptionSymbol, underlier_price: Decimal | None, terms: ContractTerms | None = None) -> bool:
    """Whether an expiring option is at pin risk at ``underlier_price`` (module docstring); False
    for a cash-settled option and when the price is unknown."""
    if underlier_price is None or (terms is not None and terms.settlement == "CASH"):
        return False
    return abs(in_the_money_by(symbol, underlier_price, terms)) <= pin_threshold(symbol, terms)
