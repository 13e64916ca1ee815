"""The state-changing tools: each confirmed action is registered with one call (``confirmed``),
which gives it a preview tool and an executing tool that gets the person's yes (the confirmation model README.md describes).

How the yes is obtained is decided per call by ``safety.policy.confirmation_route``:

* **token**: the call carries the ``confirmation_token`` of a preview the assistant showed the person;
* **elicitation**: the server asks the person itself, with the plan of the call's token when it
  carries one (else of a token issued for the question), so the keys the person saw are the keys
  sent. In the 2025-11-25 era the question goes out mid-call (``elicitation/create``); in the
  2026-07-28 era the call returns ``input_required`` with the question, and the client calls again
  with the answer and the sealed ``request_state`` naming the token. One reading of the answer for
  both: only ``{"confirm": true}`` is a yes (``actions.pipeline.Answer``);
* **refuse**: the mode demands elicitation and this client cannot be asked.

The model cannot skip the question: when the client can be asked (and the mode allows it) a token
alone is not enough.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ToolAnnotations,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from ..clearstreet.enums import InstructionType
from ..safety.policy import confirmation_route
from .app import app_of, respond
from .read_tools import AccountId, InstrumentRef, InstrumentText, NotABoolean, written_as
from .tool_base import Arguments, SurfaceTool, make_tool, present, tool_error

if TYPE_CHECKING:
    from ..actions.pipeline import ConfirmedAction
    from ..domain.instructions import InstructionInput

__all__ = ["action_tools"]

# Hints where they differ from the specification's defaults, as read_tools.READ explains; a
# destructive tool still says so in words, for a host that does not apply the defaults.
PREVIEW = ToolAnnotations(read_only_hint=True)
"""A preview sends nothing, but it is not idempotent: each one issues a new token (and keys)."""
DESTRUCTIVE = ToolAnnotations(destructive_hint=True)
CANCEL = ToolAnnotations(destructive_hint=False, idempotent_hint=True)

ANSWER_KEY = "confirm"
APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {
            "type": "boolean",
            "title": "Send it?",
            "description": "Yes: send exactly what this message describes",
        }
    },
    "required": ["confirm"],
}


def _flag(value: Any) -> Any:
    """true or false (or the JSON text of one): never 1, "yes" or "on", which a person did not write."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


CancelOrders = Annotated[
    bool,
    BeforeValidator(_flag),
    Field(description="Cancel working orders first, so all of it closes (else only what is free)"),
]
ConfirmationToken = Annotated[
    str | None,
    Field(
        max_length=4096,
        description="The preview's token, once the person said yes (or the server asks them, if it can)",
    ),
]


# -- arguments ---------------------------------------------------------------------------------


InstructionKey = Annotated[
    str | None,
    Field(
        description="Idempotency key (default: the preview's); to retry an unknown outcome, the first one",
    ),
    written_as(r"[A-Za-z0-9._:-]+", "letters, digits, '.', '_', ':' or '-'", longest=64),
]


class InstructionRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction_type: InstructionType = Field(description="DO_NOT_EXERCISE and CONTRARY_EXERCISE: expiry day only")
    instrument_id: InstrumentText = Field(description="The contract: OSI symbol or UUID")
    quantity: Annotated[int, NotABoolean] = Field(ge=1, le=1_000_000, description="Contracts")
    instruction_id: InstructionKey = None
    client_instruction_id: InstructionKey = Field(None, description="The API's name for instruction_id")

    @model_validator(mode="after")
    def _one_key(self) -> InstructionRow:
        if self.instruction_id and self.client_instruction_id and self.instruction_id != self.client_instruction_id:
            raise ValueError("instruction_id and client_instruction_id name one key: give one of them")
        return self

    def as_input(self) -> InstructionInput:
        from ..domain.instructions import InstructionInput

        key = self.instruction_id or self.client_instruction_id
        return InstructionInput(
            instruction_type=self.instruction_type,
            instrument_id=self.instrument_id,
            quantity=self.quantity,
            instruction_id=key,
        )


Rows = Annotated[
    list[InstructionRow],
    Field(min_length=1, max_length=50, description="One batch"),
]


class ClosePositionArgs(Arguments):
    instrument_id: InstrumentRef
    account_id: AccountId = None
    cancel_orders: CancelOrders = False


class CloseAllArgs(Arguments):
    account_id: AccountId = None
    cancel_orders: CancelOrders = False


class SubmitInstructionsArgs(Arguments):
    instructions: Rows
    account_id: AccountId = None


class CancelArgs(Arguments):
    instruction_id: Annotated[
        str,
        Field(description="Its 'id' in get_position_instructions, not its key"),
        written_as(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", "a UUID, the instruction's 'id'", longest=36),
    ]
    account_id: AccountId = None


def with_token(arguments: type[Arguments]) -> type[Arguments]:
    """The executing tool's arguments: its preview's, plus the confirmation token."""
    return create_model(
        arguments.__name__.replace("Args", "ExecuteArgs"),
        __base__=arguments,
        confirmation_token=(ConfirmationToken, None),
    )


# -- the human yes -----------------------------------------------------------------------------


def can_elicit(ctx: Context[Any, Any]) -> bool:
    """The client can show a form question (an empty elicitation capability means form)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _state(ctx: Context[Any, Any], tool: str) -> str | None:
    """The token named by this call's echoed ``request_state`` (sealed by the SDK), if any."""
    raw = ctx.request_state
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    token = state.get("token") if isinstance(state, dict) and state.get("tool") == tool else None
    return token if isinstance(token, str) else None


async def execute(
    ctx: Context[Any, Any], action: ConfirmedAction[Any, Any], account_id: int | None, args: Any, token: str | None
) -> CallToolResult | InputRequiredResult:
    """Get the person's yes by the route this call takes, then let the pipeline execute."""
    from ..actions.action_errors import ActionError
    from ..actions.pipeline import Answer

    app = app_of(ctx)
    pipeline, caller = app.pipeline, app.caller()
    mode = app.settings.confirmation
    try:
        route = confirmation_route(mode, can_elicit(ctx))
        if route == "refuse":
            raise await pipeline.refuse_call(
                action,
                account_id,
                args,
                "ELICITATION_UNAVAILABLE",
                "POSITIONS_MCP_CONFIRMATION is 'elicitation' and this client cannot ask the person. "
                "Use a client that supports elicitation, or ask whoever runs the server for token mode.",
                caller=caller,
            )
        if route == "token":
            return present(await pipeline.execute(action, account_id, args, token, caller=caller))
        if ctx.session.can_send_request:  # 2025-11-25: ask mid-call
            question = await pipeline.question(action, account_id, args, token, caller=caller)
            try:
                reply = await ctx.session.elicit_form(question.text, APPROVAL_SCHEMA, related_request_id=ctx.request_id)
                answer = Answer(reply.action, reply.content)
            except MCPError as exc:  # the client failed to ask: a refusal like any other, audited
                answer = Answer.failed(f"the client answered with an error ({exc.error.message})")
            return present(await pipeline.execute(action, account_id, args, question.token, answer, caller=caller))
        shown = _state(ctx, action.name)  # 2026-07-28: ask, then resume with the answer
        response = (ctx.input_responses or {}).get(ANSWER_KEY)
        if shown is None or response is None:
            question = await pipeline.question(action, account_id, args, token, caller=caller)
            return InputRequiredResult(
                input_requests={
                    ANSWER_KEY: ElicitRequest(
                        params=ElicitRequestFormParams(message=question.text, requested_schema=APPROVAL_SCHEMA)
                    )
                },
                request_state=json.dumps({"tool": action.name, "token": question.token}),
            )
        answer = (
            Answer(response.action, response.content)
            if isinstance(response, ElicitResult)
            else Answer.failed(f"the client sent {type(response).__name__} instead of an answer")
        )
        return present(await pipeline.execute(action, account_id, args, shown, answer, caller=caller))
    except ActionError as exc:
        raise tool_error(app.environment, str(exc)) from None


# -- registration ------------------------------------------------------------------------------


class Declared:
    """A state-changing action registered under its tool ``name`` (the one place the name is
    written), loaded from ``where`` (``"<module of actions>:<class>"``) with the use-cases on first
    use. ``convert`` reads the tool's validated input as the action's arguments (default: the
    action's ``args_from``, field by field)."""

    def __init__(self, name: str, where: str, convert: Callable[[Any], Any] | None = None) -> None:
        self.name = name
        self.preview_name = f"preview_{name}"
        self._where = where
        self._convert = convert

    @cached_property
    def action(self) -> Any:
        """The action (a ``ConfirmedAction`` or an ``IdempotentAction``), named by this registration."""
        module, cls = self._where.split(":")
        return getattr(importlib.import_module(f"positions_mcp.actions.{module}"), cls)(self.name)

    def args(self, arguments: Any) -> Any:
        """The tool's validated arguments as the action's own argument object."""
        return self._convert(arguments) if self._convert else self.action.args_from(arguments)


def confirmed(
    name: str,
    where: str,
    *,
    arguments: type[Arguments],
    convert: Callable[[Any], Any] | None = None,
    preview_title: str,
    preview_description: str,
    title: str,
    description: str,
    environment: str,
) -> list[SurfaceTool]:
    """The preview tool and the executing tool of one confirmed action (see ``Declared``)."""
    declared = Declared(name, where, convert)

    async def preview(ctx: Context[Any, Any], args: Any) -> CallToolResult:
        app = app_of(ctx)
        return await respond(
            app,
            app.pipeline.preview(
                declared.action, args.account_id, declared.args(args), caller=app.caller(), can_ask=can_elicit(ctx)
            ),
        )

    async def run(ctx: Context[Any, Any], args: Any) -> CallToolResult | InputRequiredResult:
        return await execute(ctx, declared.action, args.account_id, declared.args(args), args.confirmation_token)

    return [
        make_tool(
            name=declared.preview_name,
            title=preview_title,
            description=preview_description,
            annotations=PREVIEW,
            arguments=arguments,
            handler=preview,
            environment=environment,
        ),
        make_tool(
            name=declared.name,
            title=title,
            description=description,
            annotations=DESTRUCTIVE,
            arguments=with_token(arguments),
            handler=run,
            environment=environment,
        ),
    ]


def idempotent(
    name: str,
    where: str,
    *,
    arguments: type[Arguments],
    title: str,
    description: str,
    environment: str,
    convert: Callable[[Any], Any] | None = None,
) -> SurfaceTool:
    """The one tool of an action sent without confirmation, because repeating it converges."""
    declared = Declared(name, where, convert)

    async def run(ctx: Context[Any, Any], args: Any) -> CallToolResult:
        app = app_of(ctx)
        return await respond(
            app, app.pipeline.perform(declared.action, args.account_id, declared.args(args), caller=app.caller())
        )

    return make_tool(
        name=name,
        title=title,
        description=description,
        annotations=CANCEL,
        arguments=arguments,
        handler=run,
        environment=environment,
    )


def _close_one(arguments: Any) -> Any:
    from ..actions.close import CloseArgs, OnePosition

    return CloseArgs(OnePosition(arguments.instrument_id), cancel_orders=arguments.cancel_orders)


def _close_every(arguments: Any) -> Any:
    from ..actions.close import CloseArgs, EveryPosition

    return CloseArgs(EveryPosition(), cancel_orders=arguments.cancel_orders)


def _submit_args(arguments: Any) -> Any:
    from ..actions.exercise import SubmitArgs

    return SubmitArgs(tuple(row.as_input() for row in arguments.instructions))


def action_tools(environment: str) -> list[SurfaceTool]:
    return [
        *confirmed(
            "close_position",
            "close:ClosePosition",
            arguments=ClosePositionArgs,
            convert=_close_one,
            preview_title="Preview closing a position",
            preview_description="""The MARKET DAY order that would close one position (side, quantity, estimate and its
            source, warnings) and the token for close_position. Sends nothing.""",
            title="Close a position",
            description="""Send what preview_close_position showed, after the person's explicit yes. Refused if the
            position changed.""",
            environment=environment,
        ),
        *confirmed(
            "close_positions",
            "close:ClosePosition",
            arguments=CloseAllArgs,
            convert=_close_every,
            preview_title="Preview closing every position",
            preview_description="""The MARKET DAY orders that would close EVERY position (cash excluded), their
            estimated total, warnings, and the token for close_positions. Sends nothing.""",
            title="Close every position",
            description="""Send what preview_close_positions showed for EVERY position, after the person's explicit
            yes. Refused if any position changed.""",
            environment=environment,
        ),
        *confirmed(
            "submit_position_instructions",
            "exercise:SubmitInstructions",
            arguments=SubmitInstructionsArgs,
            convert=_submit_args,
            preview_title="Preview position instructions",
            preview_description="""Checks exercise / do-not-exercise / contrary-exercise rows (held long, available,
            expiry day, style, the day's cutoff), moneyness and what exercise delivers; gives each row its key and
            the token for submit_position_instructions. Sends nothing.""",
            title="Submit position instructions",
            description="""Send what preview_submit_position_instructions showed, with its keys (a retry cannot
            exercise twice), after the person's explicit yes. http_status 207: some rows REJECTED.""",
            environment=environment,
        ),
        idempotent(
            "cancel_position_instruction",
            "cancel:CancelInstruction",
            title="Cancel a position instruction",
            description="""Cancel a SENT instruction (CANCEL_REQUESTED now; CANCELLED or CANCEL_FAILED later in
            get_position_instructions). Safe to repeat.""",
            arguments=CancelArgs,
            environment=environment,
        ),
    ]
