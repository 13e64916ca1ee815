"""The terms of an option contract: multiplier, deliverable, exercise style, settlement. Pure, no I/O.

Where the terms come from, best first (``ContractTerms.source`` says which one was used):

1. ``"contract endpoint"``: a row of ``GET /v1/instruments/options/contracts`` (market-data
   Clear Street's API documentation): ``multiplier`` ("use it, never a constant"), ``exercise_style``,
   ``is_settle_on_open``, ``last_trade_cutoff``. The endpoint has no deliverable field; a
   ``deliverable_shares`` key, when the caller has one (an adjusted contract whose deliverable is
   not its multiplier), is read too. Without one, the deliverable is taken to be the multiplier,
   and for an adjusted root (:func:`is_adjusted_root`) that is **not confirmed**
   (``deliverable_confirmed`` False): an adjustment can keep the multiplier at 100 and make the
   deliverable 150 shares (OCC By-Laws Article VI, Section 11A), so no figure that depends on
   what the contract delivers is stated for it.
2. ``"known index roots"``: the OSI root is one of a short list of index option roots whose
   style is fixed by the listing exchange's contract specifications (Cboe: SPX, SPXW, XSP, NDX,
   RUT, VIX, DJX … are European-style; OEX is American-style). All index options settle in cash.
   The AM-settled roots among them (SPX, NDX, RUT, VIX, VIXW, DJX: settlement value from the
   opening prices, last trade the business day before) are AM-settled by the same specifications;
   the endpoint's ``is_settle_on_open``, when not null, says it for the contract itself.
3. ``"default (standard equity option)"``: 100 shares a contract, physical delivery, and
   ``exercise_style`` None: the style is *unknown* and is never assumed; the instruction planner
   says so in the row's notes.

Settlement is not on the contract endpoint: it is ``CASH`` when the position's underlier is an
``INDEX`` (Clear Street's API documentation, ``underlying_instrument_type``) or the root is a known index root, else
``PHYSICAL``. A cash-settled contract delivers no shares: ``deliverable_shares`` is 0 and
exercising pays the intrinsic value × ``multiplier`` per contract (OCC Rule 1601 ff. for index
options: the exercise settlement amount is the difference between the exercise settlement value
and the strike, times the multiplier).

For a physically settled contract the strike is paid on the multiplier (aggregate strike =
strike × multiplier per contract) and ``deliverable_shares`` shares are delivered. For a standard
contract both are 100; after an OCC adjustment (e.g. a 3-for-2 split) the deliverable becomes 150
shares while the multiplier stays 100 (OCC By-Laws Article VI, Section 11A).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..clearstreet.models import Position, SecurityType
from .numbers import OPTION_MULTIPLIER, DecimalString
from .osi import OptionSymbol, parse_osi, symbol_key, try_parse_osi

__all__ = [
    "DEFAULT_SOURCE",
    "ENDPOINT_SOURCE",
    "INDEX_ROOTS_SOURCE",
    "KNOWN_AMERICAN_INDEX_ROOTS",
    "KNOWN_AM_SETTLED_INDEX_ROOTS",
    "KNOWN_EUROPEAN_INDEX_ROOTS",
    "ContractTerms",
    "ExerciseStyle",
    "Settlement",
    "TermsSource",
    "is_adjusted_root",
    "terms_for",
    "terms_for_positions",
    "underlier_of_root",
]

ExerciseStyle = Literal["AMERICAN", "EUROPEAN"]
Settlement = Literal["PHYSICAL", "CASH"]
TermsSource = Literal["contract endpoint", "known index roots", "default (standard equity option)"]
ENDPOINT_SOURCE: TermsSource = "contract endpoint"
INDEX_ROOTS_SOURCE: TermsSource = "known index roots"
DEFAULT_SOURCE: TermsSource = "default (standard equity option)"

KNOWN_EUROPEAN_INDEX_ROOTS = frozenset(
    {
        # Cboe S&P 500 family: SPX (AM-settled monthly), SPXW (PM weeklies), SPXPM, XSP (mini)
        "SPX",
        "SPXW",
        "SPXPM",
        "XSP",
        # Nasdaq-100: NDX, NDXP (PM), XND (micro)
        "NDX",
        "NDXP",
        "XND",
        # Russell 2000: RUT, RUTW, MRUT
        "RUT",
        "RUTW",
        "MRUT",
        # Cboe Volatility Index
        "VIX",
        "VIXW",
        # Dow Jones Industrial Average (1/100), S&P 100 European-style, MSCI EAFE / Emerging Markets
        "DJX",
        "XEO",
        "MXEA",
        "MXEF",
    }
)
"""Index option roots listed European-style (exercisable only at expiration), from the listing
exchanges' contract specifications. A short list on purpose: anything else is 'style unknown'."""


def is_adjusted_root(root: str) -> bool:
    """An OSI root ending in a digit: OCC's new root for an adjusted (or mini) contract (AAPL ->
    AAPL1), whose deliverable is not the standard 100 shares: never assumed standard."""
    return root[-1:].isdigit()


KNOWN_AM_SETTLED_INDEX_ROOTS = frozenset({"SPX", "NDX", "RUT", "VIX", "VIXW", "DJX"})
"""Index option roots whose series are A.M.-settled (Cboe contract specifications: the exercise
settlement value comes from the opening prices on the expiration day, and trading ends at the close
of the business day before). Their P.M.-settled siblings have roots of their own (SPXW, NDXP, RUTW)."""


def underlier_of_root(root: str) -> str:
    """The security an OSI root stands for when nothing better names it: an adjusted root without
    its digits (OCC appends them to the underlier's symbol: AAPL1 -> AAPL), any other root as is.
    Never the adjusted root itself: no security trades under it."""
    return (root.rstrip("0123456789") or root) if is_adjusted_root(root) else root


KNOWN_AMERICAN_INDEX_ROOTS = frozenset({"OEX"})
"""S&P 100 OEX: an American-style, cash-settled index option (Cboe contract specifications)."""

_STYLES: dict[str, ExerciseStyle] = {"AMERICAN": "AMERICAN", "EUROPEAN": "EUROPEAN"}


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """What one contract of an option series is: see the module docstring.

    ``multiplier``: premium and strike multiplier (notional = contracts × price × multiplier).
    ``deliverable_shares``: shares delivered per contract on exercise; 0 when cash-settled.
    ``exercise_style``: None when unknown (never assumed). ``source``: where the terms come from.
    """

    multiplier: DecimalString
    deliverable_shares: DecimalString
    exercise_style: ExerciseStyle | None
    settlement: Settlement
    is_settle_on_open: bool | None
    source: TermsSource
    last_trade_cutoff: datetime | None = None
    deliverable_confirmed: bool = True
    """False for an adjusted contract whose deliverable no source gave (module docstring): its
    ``deliverable_shares`` stands in for it and is not to be stated or counted."""
    problem: str | None = None
    """Set when the contract endpoint's row was unusable and the fallback terms stand in for it:
    figures on these terms are not to be approved (the instruction planner blocks such rows)."""

    def __post_init__(self) -> None:
        for name in ("multiplier", "deliverable_shares"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a finite, non-negative Decimal, got {value!r}")
        if self.multiplier == 0:
            raise ValueError("multiplier must be positive")
        if self.settlement == "PHYSICAL" and self.deliverable_shares == 0:
            raise ValueError("a physically settled contract delivers shares: deliverable_shares must be positive")

    @property
    def is_standard(self) -> bool:
        """100 shares a contract, physical delivery: the terms the rest of the text assumes."""
        return (
            self.settlement == "PHYSICAL"
            and self.multiplier == OPTION_MULTIPLIER
            and self.deliverable_shares == OPTION_MULTIPLIER
        )

    def describe(self) -> str:
        """``150 shares a contract, multiplier 100, AMERICAN, physical (contract endpoint)``."""
        parts = []
        if self.settlement == "CASH":
            parts.append(f"cash-settled, multiplier {_plain(self.multiplier)}")
        elif not self.deliverable_confirmed:
            parts.append(f"deliverable not confirmed, multiplier {_plain(self.multiplier)}")
        else:
            parts.append(f"{_plain(self.deliverable_shares)} shares a contract, multiplier {_plain(self.multiplier)}")
        parts.append(self.exercise_style or "exercise style unknown")
        if self.is_settle_on_open:
            parts.append("AM-settled")
        text = f"{', '.join(parts)} ({self.source})"
        return f"{text}; {self.problem}" if self.problem else text


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _field(data: Any, name: str) -> Any:
    if isinstance(data, Mapping):
        return data.get(name)
    return getattr(data, name, None)


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise ValueError(f"{name} must be a decimal string or Decimal, never a float ({value!r})")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name} {value!r} is not a decimal number") from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def _style(value: Any) -> ExerciseStyle | None:
    if value is None:
        return None
    text = str(getattr(value, "value", value)).strip().upper()
    return _STYLES.get(text)  # an unknown string is an unknown style, not a guess


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _instant(value: Any) -> datetime | None:
    """An instant of the endpoint's, which are UTC (Clear Street's market-data API documentation): one written without
    an offset is read as UTC; text that is no timestamp is unknown (None)."""
    if value is None:
        return None
    instant: datetime
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return instant if instant.utcoffset() is not None else instant.replace(tzinfo=UTC)


def terms_for(subject: Position | OptionSymbol | str, contract: Any = None) -> ContractTerms:
    """The terms of the contract ``subject`` names (a position, an OSI symbol or its text), from
    ``contract`` (a row of the option-contracts endpoint, as a wire mapping or an object with the
    same attribute names) when given, else from the fallbacks of the module docstring.

    Raises ``ValueError`` when ``subject`` has no OSI symbol or ``contract`` carries an unusable
    multiplier (a float, zero, negative or not a number): bad reference data is never guessed over
    (``terms_for_positions`` falls back to the defaults with ``problem`` set). A row without a usable
    ``exercise_style`` keeps a known index root's listed style.
    """
    index_underlier = False
    if isinstance(subject, Position):
        index_underlier = subject.underlying_instrument_type == SecurityType.INDEX
        symbol = parse_osi(subject.symbol)
    elif isinstance(subject, OptionSymbol):
        symbol = subject
    else:
        symbol = parse_osi(subject)
    root = symbol.root
    known_index = root in KNOWN_EUROPEAN_INDEX_ROOTS or root in KNOWN_AMERICAN_INDEX_ROOTS
    settlement: Settlement = "CASH" if index_underlier or known_index else "PHYSICAL"
    listed_am = True if root in KNOWN_AM_SETTLED_INDEX_ROOTS else None
    listed_style: ExerciseStyle | None = (
        "EUROPEAN" if root in KNOWN_EUROPEAN_INDEX_ROOTS else "AMERICAN" if root in KNOWN_AMERICAN_INDEX_ROOTS else None
    )

    if contract is not None:
        multiplier = _decimal(_field(contract, "multiplier"), "multiplier") or OPTION_MULTIPLIER
        deliverable = _decimal(_field(contract, "deliverable_shares"), "deliverable_shares")
        confirmed = True
        if settlement == "CASH":
            deliverable = Decimal(0)
        elif deliverable is None:
            deliverable = multiplier
            confirmed = not is_adjusted_root(root)
        settles_on_open = _bool(_field(contract, "is_settle_on_open"))  # null: unknown, the listed rule stands
        return ContractTerms(
            multiplier=multiplier,
            deliverable_shares=deliverable,
            exercise_style=_style(_field(contract, "exercise_style")) or listed_style,
            settlement=settlement,
            is_settle_on_open=listed_am if settles_on_open is None else settles_on_open,
            source=ENDPOINT_SOURCE,
            last_trade_cutoff=_instant(_field(contract, "last_trade_cutoff")),
            deliverable_confirmed=confirmed,
        )
    if known_index:
        return ContractTerms(
            multiplier=OPTION_MULTIPLIER,
            deliverable_shares=Decimal(0),
            exercise_style=listed_style,
            settlement="CASH",
            is_settle_on_open=listed_am,
            source=INDEX_ROOTS_SOURCE,
        )
    return ContractTerms(
        multiplier=OPTION_MULTIPLIER,
        deliverable_shares=Decimal(0) if settlement == "CASH" else OPTION_MULTIPLIER,
        exercise_style=None,
        settlement=settlement,
        is_settle_on_open=None,
        source=DEFAULT_SOURCE,
    )


def terms_for_positions(positions: Iterable[Position], contracts: Iterable[Any] = ()) -> dict[str, ContractTerms]:
    """``instrument_id -> ContractTerms`` for every option position whose symbol is OSI, matching
    each to its option-contracts row by ``id`` (case-insensitive) or, failing that, by symbol
    (space-insensitive). The mapping ``plan_instructions`` and the close planners take."""
    by_id: dict[str, Any] = {}
    by_symbol: dict[str, Any] = {}
    for row in contracts:
        ident, symbol = _field(row, "id"), _field(row, "symbol")
        if ident:
            by_id[str(ident).strip().lower()] = row
        if symbol:
            by_symbol[symbol_key(str(symbol))] = row
    terms: dict[str, ContractTerms] = {}
    for position in positions:
        option = try_parse_osi(position.symbol)
        if option is None:
            continue
        row = by_id.get(position.instrument_id.strip().lower()) or by_symbol.get(symbol_key(position.symbol))
        if row is None and is_adjusted_root(option.root):
            # OCC gives an adjusted contract a new root, the old one with a digit (AAPL -> AAPL1):
            # its deliverable is not the standard 100 shares, and without its row it is unknown.
            terms[position.instrument_id] = replace(
                terms_for(position),
                deliverable_confirmed=False,
                problem="an adjusted contract (its root ends in a digit) and the option-contracts endpoint gave "
                "no row for it: its multiplier and deliverable are unknown",
            )
            continue
        try:
            terms[position.instrument_id] = terms_for(position, row)
        except ValueError as exc:  # bad reference data: the fallback, marked so no one approves on it
            terms[position.instrument_id] = replace(
                terms_for(position), problem=f"the contract endpoint's row is unusable ({exc})"
            )
    return terms
