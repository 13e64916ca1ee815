"""Rules 7-10: the day and the time.

7. DO_NOT_EXERCISE / CONTRARY_EXERCISE only on the expiration business day (DNE_NOT_ON_EXPIRY /
   CEA_NOT_ON_EXPIRY);
8. no EXERCISE of a European-style contract before its expiration business day
   (EUROPEAN_EXERCISE_BEFORE_EXPIRY);
9. before the exercise cutoff on the expiration business day (EXERCISE_PAST_CUTOFF);
10. no EXERCISE after the expiration business day (EXERCISE_PAST_CUTOFF).

* **Cutoff** (rule 9): FINRA Rule 2360(b)(23)(A), :func:`.calendar.exercise_cutoff`: 17:30 ET, or
  14:30 ET on an early-close day (13:00 close + 1½ h). The broker's cutoff (New York wall time),
  when given, applies when earlier (:meth:`.plan_inputs.PlanInputs.deadline`). Clear Street's own
  cutoff is unpublished (Clear Street's API documentation). ``cutoff_time`` metadata is the cutoff
  instant in RFC 3339 with the New York offset; ``InstructionPlan.cutoff_time`` is today's
  effective cutoff.
* There is no daily cutoff for early exercise (the API documents none): an EXERCISE after the
  day's cutoff before expiry gets a note (:func:`after_todays_cutoff`), not a block.
* An unknown exercise style is never assumed: an early EXERCISE of such a contract passes, with a
  note saying so (:func:`.plan_wording.terms_notes`).
"""

from __future__ import annotations

from ...clearstreet.models import InstructionType
from ..calendar import describe_exercise_cutoff, expiration_business_day, is_business_day
from ..contracts import ContractTerms
from ..osi import OptionSymbol
from .instruction_plan import InstructionCode
from .plan_inputs import PlanInputs
from .plan_row import Blocked, PlanRow

__all__ = ["after_todays_cutoff", "check_timing"]


def check_timing(inputs: PlanInputs, row: PlanRow) -> None:
    """Rules 7-10 on a row that passed rules 1-6: sets ``row.blocked`` at the first failure."""
    assert row.symbol is not None and row.terms is not None
    try:
        _expiry_day(inputs, row.request.instruction_type, row.symbol)
        _style(inputs, row.request.instruction_type, row.symbol, row.terms)
        _cutoff(inputs, row.request.instruction_type, row.symbol)
    except Blocked as blocked:
        row.blocked = blocked


def _expiry_day(inputs: PlanInputs, kind: InstructionType, symbol: OptionSymbol) -> None:
    if kind is InstructionType.EXERCISE:
        return
    expiry_day = expiration_business_day(symbol.expiry)
    if inputs.today != expiry_day:
        code = (
            InstructionCode.DNE_NOT_ON_EXPIRY
            if kind is InstructionType.DO_NOT_EXERCISE
            else InstructionCode.CEA_NOT_ON_EXPIRY
        )
        when = "has passed" if inputs.today > expiry_day else "has not come yet"
        raise Blocked(
            code,
            f"{kind.value} must be submitted on the contract's expiration business day "
            f"{expiry_day:%a %Y-%m-%d}, which {when} (today is {inputs.today:%a %Y-%m-%d} ET).",
            expiry=symbol.expiry.isoformat(),
            business_date=inputs.today.isoformat(),
        )


def _style(inputs: PlanInputs, kind: InstructionType, symbol: OptionSymbol, terms: ContractTerms) -> None:
    # A European-style option can be exercised only at expiration (OCC Rules, Chapter I
    # "European-style option"; Clear Street's API documentation and Clear Street's market-data API documentation). The API's code for
    # this rejection is undocumented: EUROPEAN_EXERCISE_BEFORE_EXPIRY is this server's.
    expiry_day = expiration_business_day(symbol.expiry)
    if kind is InstructionType.EXERCISE and terms.exercise_style == "EUROPEAN" and inputs.today < expiry_day:
        raise Blocked(
            InstructionCode.EUROPEAN_EXERCISE_BEFORE_EXPIRY,
            f"{symbol.spaced()} is a European-style option ({terms.source}): it can be exercised only "
            f"on its expiration day {expiry_day:%a %Y-%m-%d}, not before; sell it to realise its value now.",
            exercise_style="EUROPEAN",
            expiry=symbol.expiry.isoformat(),
        )


def _cutoff(inputs: PlanInputs, kind: InstructionType, symbol: OptionSymbol) -> None:
    expiry_day = expiration_business_day(symbol.expiry)
    deadline = inputs.deadline(expiry_day)
    if inputs.today == expiry_day and inputs.local >= deadline:
        raise Blocked(
            InstructionCode.EXERCISE_PAST_CUTOFF,
            f"The exercise cutoff for {symbol.spaced()} on its expiration day has passed: "
            f"{describe_exercise_cutoff(expiry_day, inputs.broker_cutoff)}.",
            cutoff_time=deadline.isoformat(),
        )
    if kind is InstructionType.EXERCISE and inputs.today > expiry_day:
        raise Blocked(
            InstructionCode.EXERCISE_PAST_CUTOFF,
            f"{symbol.spaced()} expired: its last exercise cutoff was {deadline:%H:%M} ET on {expiry_day:%a %Y-%m-%d}.",
            cutoff_time=deadline.isoformat(),
        )


def after_todays_cutoff(inputs: PlanInputs, symbol: OptionSymbol) -> bool:
    """Past today's cutoff on a business day before the contract's expiration day: an early
    EXERCISE passes, and may be processed on the next business day."""
    return (
        is_business_day(inputs.today)
        and inputs.today < expiration_business_day(symbol.expiry)
        and inputs.local >= inputs.deadline(inputs.today)
    )
