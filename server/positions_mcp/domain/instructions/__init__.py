"""Instruction plans: the pre-acceptance rules Clear Street documents, run before anything is sent.

Pure, no I/O. Each requested row is checked in this order and stops at the first failure, with the
reason code the API would use where it has one:

1. quantity is a positive whole number of contracts ............ INVALID_QUANTITY
2. the idempotency key is unique in the batch and the account .. DUPLICATE_INSTRUCTION
3. the instrument is a position of the account ................. UNKNOWN_INSTRUMENT / AMBIGUOUS_INSTRUMENT
   (an OSI symbol the account does not hold: INSUFFICIENT_POSITION, available 0, as the API would)
4. it is an option ............................................. NOT_AN_OPTION
5. the position is long ........................................ NOT_LONG
5a. its contract terms are readable (this server's rule: what a
   row delivers is stated before anyone approves it) .......... CONTRACT_TERMS_UNUSABLE
6. the batch's rows on one contract agree and fit:
   a. one instruction type per contract ........................ CONFLICTING_INSTRUCTIONS
   b. Σ quantities ≤ what pending instructions leave free ...... INSUFFICIENT_POSITION
7. DO_NOT_EXERCISE / CONTRARY_EXERCISE only on the expiration
   business day ................................................ DNE_NOT_ON_EXPIRY / CEA_NOT_ON_EXPIRY
8. no EXERCISE of a European-style contract before its
   expiration business day ..................................... EUROPEAN_EXERCISE_BEFORE_EXPIRY
9. before the exercise cutoff on the expiration business day ... EXERCISE_PAST_CUTOFF
10. EXERCISE after the expiration business day ................. EXERCISE_PAST_CUTOFF

Where each part lives, and the decisions each states:

* :mod:`.instruction_plan`: what a plan says (the rows in, each row's verdict, the batch);
* :mod:`.plan_inputs`: what a plan is made from (positions, instructions, clock, prices, terms);
* :mod:`.row_rules` (rules 1, 3-5a), :mod:`.idempotency` (rule 2 and which key a row uses),
  :mod:`.contract_rules` (rule 6: contracts covered, order independence), :mod:`.timing_rules`
  (rules 7-10: the cutoff);
* :mod:`.exercise_value`: what an exercise delivers and costs (contract terms, put deliveries);
* :mod:`.plan_wording`: what a row changes relative to the default at expiry, in words;
* :mod:`.batch_planner`: :func:`plan_instructions`, the request plus the positions into a plan.
"""

from ...clearstreet.models import new_instruction_key
from .batch_planner import plan_instructions
from .instruction_plan import (
    CashCheck,
    ExerciseDelivery,
    InstructionCode,
    InstructionInput,
    InstructionPlan,
    PlannedInstruction,
    RowStatus,
)
from .plan_inputs import underlier_position, underlier_price

__all__ = [
    "CashCheck",
    "ExerciseDelivery",
    "InstructionCode",
    "InstructionInput",
    "InstructionPlan",
    "PlannedInstruction",
    "RowStatus",
    "new_instruction_key",
    "plan_instructions",
    "underlier_position",
    "underlier_price",
]
