"""The state-changing MCP tools and their previews (DESIGN section 5). Presentation only.

A destructive tool gets its human yes in one of two ways, decided per call by
``safety.policy.confirmation_route``: the client asks the person (elicitation, through the SDK's
resolver form so it works in both protocol eras), or the call carries the confirmation_token of a
preview the assistant showed the person. The model cannot skip the question: when the client can
be asked (and the mode allows it) a token alone is not enough.
"""

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..actions.confirmed import (
    Actions,
    Approval,
    CancelExecution,
    CloseExecution,
    ClosePreview,
    InstructionPreview,
    SubmitExecution,
)
from ..actions.reads import ServiceError
from ..clearstreet.models import InstructionType
from ..domain.instructions import InstructionInput
from ..domain.resolve import display_symbol
from ..domain.text import money, qty
from ..safety.policy import confirmation_route
from ..safety.tokens import token_digest
from ..settings import Settings
from .tools import READ, AccountId, InstrumentRef, failure, run

DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
CANCEL = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

CancelOrders = Annotated[
    bool,
    Field(
        description="First cancel the working orders on the position(s), so the close covers the "
        "whole quantity (default false: only the available quantity is closed)"
    ),
]
ConfirmationToken = Annotated[
    str | None,
    Field(
        max_length=4096,
        description="confirmation_token from the matching preview, after the person said yes. "
        "Not needed when the server asks the person itself (clients with elicitation).",
    ),
]


class InstructionRow(BaseModel):
    """One instruction: what to do with how many contracts of which option."""

    model_config = ConfigDict(extra="forbid")

    instruction_type: InstructionType = Field(
        description="EXERCISE, DO_NOT_EXERCISE (expiry day only) or CONTRARY_EXERCISE (expiry day only)"
    )
    instrument_id: InstrumentRef
    quantity: int = Field(ge=1, le=1_000_000, description="Contracts (a whole number)")
    instruction_id: str | None = Field(
        None,
        validation_alias=AliasChoices("instruction_id", "client_instruction_id"),
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Idempotency key (the API's client_instruction_id, also accepted under that "
        "name); omit and the preview assigns one. To retry after an unknown outcome, pass the "
        "keys of the first attempt",
    )

    def as_input(self) -> InstructionInput:
        return InstructionInput.model_validate(self.model_dump(exclude_none=True))


Rows = Annotated[
    list[InstructionRow],
    Field(min_length=1, max_length=50, description="The instructions, 1 to 50 rows, sent as one batch"),
]


class Approve(BaseModel):
    """The one question a person answers before money moves."""

    confirm: bool = Field(title="Send it?", description="Yes: send exactly what this message describes")


class NoQuestion(BaseModel):
    """The call confirms with a token instead of asking the person."""


class Blocked(BaseModel):
    """The preview that would be shown cannot be executed: the person is not asked."""


def _ask(preview: ClosePreview | InstructionPreview | None) -> NoQuestion | Blocked | Elicit[Approve]:
    """The question for the person, or why there is none (token route, or nothing sendable)."""
    if preview is None:
        return NoQuestion()
    if preview.confirmation_token is None:
        return Blocked()
    return Elicit(_question(preview), Approve)


def _can_elicit(ctx: Context) -> bool:
    """The client can show a form question (an empty elicitation capability means form)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _question(preview: ClosePreview | InstructionPreview) -> str:
    """Everything the person approves, one line per order or instruction.

    The last line names this preview's token (a digest, never the token): an answer given to one
    preview can never be taken as an answer to another, even one whose text is otherwise the same
    (the 2026-07-28 protocol matches a recorded answer to its question by the question's text).
    """
    lines = [f"[{preview.environment.upper()}] account {preview.account_id}", preview.plan.summary]
    if isinstance(preview, ClosePreview):
        lines += [
            f"- {o.side} {qty(o.quantity)} {o.symbol} {o.order_type} {o.time_in_force}"
            + (f" (~{money(o.estimated_notional)})" if o.estimated_notional is not None else " (no price)")
            for o in preview.plan.orders
        ]
        unlisted = preview.plan.order_count - len(preview.plan.orders)
        if unlisted:
            lines.append(f"- and {unlisted} smaller orders, all counted in the total above")
        lines += [f"Warning: {w.message}" for w in preview.plan.warnings]
    else:
        for row in preview.plan.rows:
            symbol = display_symbol(row.symbol or row.requested)
            lines.append(f"- {row.instruction_type} {qty(row.quantity)} {symbol} (key {row.instruction_id})")
            lines += [f"  {note}" for note in row.notes]
    assert preview.confirmation_token is not None  # only sendable previews are asked about
    lines.append(f"Send this now? (preview {token_digest(preview.confirmation_token)})")
    return "\n".join(lines)


def register_action_tools(server: MCPServer[Any], actions: Actions, settings: Settings) -> None:
    mode = settings.confirmation

    async def route(ctx: Context, tool: str, account_id: int | None, arguments: dict[str, Any]) -> bool:
        """True when the person is to be asked; refuses (audited) when they must be but can't."""
        decision = confirmation_route(mode, _can_elicit(ctx))
        if decision == "refuse":
            try:
                account = await actions.account(tool, account_id, arguments)
            except ServiceError as exc:
                raise failure(actions.environment, str(exc)) from None
            error = await actions.refuse(
                tool,
                account,
                arguments,
                "ELICITATION_UNAVAILABLE",
                "POSITIONS_MCP_CONFIRMATION is 'elicitation' and this client cannot ask the person. "
                "Use a client that supports elicitation, or ask whoever runs the server for token mode.",
            )
            raise failure(actions.environment, str(error))
        return decision == "elicitation"

    async def approval(
        tool: str,
        account_id: int | None,
        arguments: dict[str, Any],
        answer: ElicitationResult[Any],
        token: str | None,
        preview: ClosePreview | InstructionPreview | None,
    ) -> Approval:
        """The human's yes; anything else is audited and refused before the upstream is touched."""
        if isinstance(answer, AcceptedElicitation):
            if isinstance(answer.data, NoQuestion):
                return Approval(token=token)
            if isinstance(answer.data, Blocked) and preview is not None:
                error = await actions.refuse(tool, preview.account_id, arguments, "BLOCKED", preview.plan.why_blocked())
                raise failure(actions.environment, str(error))
            if isinstance(answer.data, Approve) and answer.data.confirm and preview is not None:
                return Approval(elicited=preview)
            choice = "did not confirm"
        else:
            choice = f"chose '{answer.action}'"
        error = await actions.refuse(
            tool, preview.account_id if preview else None, arguments, "DECLINED", f"The person {choice}."
        )
        raise failure(actions.environment, str(error))

    async def guarded(call: Any) -> Any:
        try:
            return await call
        except ServiceError as exc:
            raise failure(actions.environment, str(exc)) from None

    # ------------------------------------------------------------ close one

    @server.tool(title="Preview closing a position", annotations=READ)
    async def preview_close_position(
        instrument_id: InstrumentRef, account_id: AccountId = None, cancel_orders: CancelOrders = False
    ) -> Annotated[CallToolResult, ClosePreview]:
        """What closing one position would send (MARKET DAY order: side, quantity, estimated price
        and notional, warnings) and the confirmation_token for close_position. Sends nothing."""
        return await run(
            lambda: actions.preview_close("close_position", account_id, instrument_id, cancel_orders),
            actions.environment,
        )

    async def close_position_question(
        ctx: Context, account_id: int | None, instrument_id: str, cancel_orders: bool
    ) -> ClosePreview | None:
        arguments = actions.close_arguments(instrument_id, cancel_orders)
        if not await route(ctx, "close_position", account_id, arguments):
            return None
        return await guarded(
            actions.preview_close_for_question("close_position", account_id, instrument_id, cancel_orders)
        )

    async def close_position_answer(
        preview: Annotated[ClosePreview | None, Resolve(close_position_question)],
    ) -> NoQuestion | Blocked | Elicit[Approve]:
        return _ask(preview)

    @server.tool(title="Close a position", annotations=DESTRUCTIVE)
    async def close_position(
        instrument_id: InstrumentRef,
        preview: Annotated[ClosePreview | None, Resolve(close_position_question)],
        answer: Annotated[ElicitationResult[Approve | NoQuestion | Blocked], Resolve(close_position_answer)],
        account_id: AccountId = None,
        cancel_orders: CancelOrders = False,
        confirmation_token: ConfirmationToken = None,
    ) -> Annotated[CallToolResult, CloseExecution]:
        """Send the closing order(s) for one position, exactly as previewed by
        preview_close_position. Needs the person's explicit yes: the preview's confirmation_token,
        or the person's answer when the server asks them. Refused if the position changed."""
        arguments = actions.close_arguments(instrument_id, cancel_orders)
        approved = await approval("close_position", account_id, arguments, answer, confirmation_token, preview)
        return await run(
            lambda: actions.execute_close("close_position", account_id, instrument_id, cancel_orders, approved),
            actions.environment,
        )

    # ------------------------------------------------------------ close all

    @server.tool(title="Preview closing every position", annotations=READ)
    async def preview_close_positions(
        account_id: AccountId = None, cancel_orders: CancelOrders = False
    ) -> Annotated[CallToolResult, ClosePreview]:
        """What closing EVERY position of the account would send (one MARKET DAY order per
        position, cash excluded), the estimated total, warnings, and the confirmation_token for
        close_positions. Sends nothing."""
        return await run(
            lambda: actions.preview_close("close_positions", account_id, None, cancel_orders), actions.environment
        )

    async def close_positions_question(
        ctx: Context, account_id: int | None, cancel_orders: bool
    ) -> ClosePreview | None:
        arguments = actions.close_arguments(None, cancel_orders)
        if not await route(ctx, "close_positions", account_id, arguments):
            return None
        return await guarded(actions.preview_close_for_question("close_positions", account_id, None, cancel_orders))

    async def close_positions_answer(
        preview: Annotated[ClosePreview | None, Resolve(close_positions_question)],
    ) -> NoQuestion | Blocked | Elicit[Approve]:
        return _ask(preview)

    @server.tool(title="Close every position", annotations=DESTRUCTIVE)
    async def close_positions(
        preview: Annotated[ClosePreview | None, Resolve(close_positions_question)],
        answer: Annotated[ElicitationResult[Approve | NoQuestion | Blocked], Resolve(close_positions_answer)],
        account_id: AccountId = None,
        cancel_orders: CancelOrders = False,
        confirmation_token: ConfirmationToken = None,
    ) -> Annotated[CallToolResult, CloseExecution]:
        """Send closing orders for EVERY position of the account, exactly as previewed by
        preview_close_positions. Needs the person's explicit yes (token or direct answer).
        Refused if any position changed since the preview."""
        arguments = actions.close_arguments(None, cancel_orders)
        approved = await approval("close_positions", account_id, arguments, answer, confirmation_token, preview)
        return await run(
            lambda: actions.execute_close("close_positions", account_id, None, cancel_orders, approved),
            actions.environment,
        )

    # --------------------------------------------------------- instructions

    @server.tool(title="Preview position instructions", annotations=READ)
    async def preview_submit_position_instructions(
        instructions: Rows, account_id: AccountId = None
    ) -> Annotated[CallToolResult, InstructionPreview]:
        """Check exercise / do-not-exercise / contrary-exercise instructions before sending: option
        held long, quantity available, expiry-day and cutoff rules, moneyness, what exercise
        delivers, and the idempotency keys. Returns the confirmation_token for
        submit_position_instructions. Sends nothing."""
        rows = [row.as_input() for row in instructions]
        return await run(lambda: actions.preview_instructions(account_id, rows), actions.environment)

    async def instructions_question(
        ctx: Context, account_id: int | None, instructions: list[InstructionRow]
    ) -> InstructionPreview | None:
        rows = [row.as_input() for row in instructions]
        if not await route(ctx, "submit_position_instructions", account_id, actions.instruction_arguments(rows)):
            return None
        return await guarded(actions.preview_instructions_for_question(account_id, rows))

    async def instructions_answer(
        preview: Annotated[InstructionPreview | None, Resolve(instructions_question)],
    ) -> NoQuestion | Blocked | Elicit[Approve]:
        return _ask(preview)

    @server.tool(title="Submit position instructions", annotations=DESTRUCTIVE)
    async def submit_position_instructions(
        instructions: Rows,
        preview: Annotated[InstructionPreview | None, Resolve(instructions_question)],
        answer: Annotated[ElicitationResult[Approve | NoQuestion | Blocked], Resolve(instructions_answer)],
        account_id: AccountId = None,
        confirmation_token: ConfirmationToken = None,
    ) -> Annotated[CallToolResult, SubmitExecution]:
        """Submit the instructions exactly as previewed by preview_submit_position_instructions,
        with the idempotency keys the preview assigned (so a retry cannot exercise twice). Needs
        the person's explicit yes (token or direct answer). A partial success (HTTP 207) lists
        each row as SENT or REJECTED."""
        rows = [row.as_input() for row in instructions]
        approved = await approval(
            "submit_position_instructions",
            account_id,
            actions.instruction_arguments(rows),
            answer,
            confirmation_token,
            preview,
        )
        return await run(lambda: actions.execute_instructions(account_id, rows, approved), actions.environment)

    @server.tool(title="Cancel a position instruction", annotations=CANCEL)
    async def cancel_position_instruction(
        instruction_id: Annotated[
            str,
            Field(
                pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                description="The instruction's server id (the 'id' field, a UUID), not its idempotency key",
            ),
        ],
        account_id: AccountId = None,
    ) -> Annotated[CallToolResult, CancelExecution]:
        """Ask Clear Street to cancel a SENT instruction. Returns CANCEL_REQUESTED; the final
        CANCELLED or CANCEL_FAILED shows later in get_position_instructions. Safe to repeat."""
        return await run(lambda: actions.cancel_instruction(account_id, instruction_id), actions.environment)
