"""Result models of the MCP tools and resources: what an assistant reads.

Every result names its environment, so the simulator can never pass for a live account. Money and
quantities travel as exact decimal strings.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..clearstreet.models import Position, PositionInstruction


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(description="Where the data comes from: simulator, dev, production or custom (URL)")
    account_id: int


class PositionsPage(Result):
    """One page of positions, every field as the upstream sent it."""

    positions: list[Position]
    page_number: int | None = None
    total_items: int | None = Field(None, description="Positions matching the filters, all pages")
    total_pages: int | None = None
    next_page_token: str | None = Field(
        None, description="Pass as page_token (with the same filters and sort) for the next page"
    )
    previous_page_token: str | None = None
    request_id: str | None = Field(None, description="Upstream request id, for support")
    note: str | None = Field(
        None, description="Why an underlier listing is empty, or where the rest of a long positions document is"
    )


class PositionInstructions(Result):
    """Persisted position instructions (exercise / do-not-exercise / contrary) with their status."""

    instructions: list[PositionInstruction]
    request_id: str | None = None


class Status(BaseModel):
    """What this server is connected to and what it will do."""

    environment: str
    is_simulator: bool
    base_url: str
    read_only: bool
    state_changing_tools: bool = Field(description="Whether close/exercise tools are registered")
    allowed_accounts: list[int] | None = Field(description="None: every account the key can access")
    default_account: int | None
    confirmation: str
    confirm_ttl_seconds: int
    call_timeout_seconds: int
    max_close_notional: str | None
    server_version: str
