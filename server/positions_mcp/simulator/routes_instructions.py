"""``GET`` and ``POST /v1/accounts/{account_id}/positions/instructions`` and ``DELETE
…/instructions/{instruction_id}`` (Clear Street's API documentation): the batch judged as
``instruction_batch`` says, cancels as ``instruction_lifecycle`` resolves them.

A submit answered by an injected 500 or 503 (``SimulatedApi``, ``fault_status`` in the request's
state) still answers every row, REJECTED, and persists none."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .access import Access
from .envelope import envelope, error_response, request_id
from .instruction_batch import fail_batch, list_instructions, parse_batch, submit_batch
from .instruction_lifecycle import request_cancel
from .queries import NO_BODY, optional_query, parse_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstructionRoutes:
    access: Access

    async def instructions(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.submit(request)
        return await self.listing(request)

    async def listing(self, request: Request) -> Response:
        instruments = self.access.state.instruments
        with self.access.account(request) as account:
            contract_ref = optional_query(request, "instrument_id")
            underlying_ref = optional_query(request, "underlying_instrument_id")
            data = list_instructions(
                account,
                instrument=instruments.require(contract_ref) if contract_ref else None,
                underlying=instruments.require(underlying_ref) if underlying_ref else None,
            )
        return envelope(request, data)

    async def submit(self, request: Request) -> Response:
        raw = await request.body()
        fault_status = request.scope["state"].get("fault_status")
        state = self.access.state
        with self.access.account(request) as account:
            body = parse_json(raw)
            rows = parse_batch(None if body is NO_BODY else body)
            if fault_status is not None:
                outcome = fail_batch(state, account, rows, fault_status)
            else:
                outcome = submit_batch(state, account, rows)
        logger.info("account %s: batch of %d instructions answered %d", account.account_id, len(rows), outcome.status)
        if outcome.status >= 400:
            assert outcome.error is not None
            return error_response(request_id(request), outcome.status, outcome.error["message"], data=outcome.rows)
        return envelope(request, outcome.rows, status=outcome.status, error=outcome.error)

    async def cancel(self, request: Request) -> Response:
        with self.access.account(request) as account:
            instruction = request_cancel(self.access.state, account, request.path_params["instruction_id"])
            data = instruction.to_wire()
        logger.info("account %s: instruction %s is %s", account.account_id, instruction.id, data["status"])
        return envelope(request, data)
