"""Typed async client of the Clear Street API: wire models, errors, pagination, retries.

Knows nothing of MCP. The public names are importable from here; they load on first use, so that
importing the wire models does not import the HTTP stack (start-up is benchmarked).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, MAX_PAGE_SIZE, ClearStreetClient
    from .config import ENVIRONMENT_URLS, check_api_key, checked_base_url
    from .errors import (
        APIStatusError,
        ClearStreetConnectionError,
        ClearStreetError,
        DeadlineExceededError,
        OutcomeUnknownError,
        PaginationLoopError,
    )
    from .models import (
        GENERATED_KEY_PREFIX,
        NIL_UUID,
        APIError,
        Envelope,
        InstructionRejection,
        InstructionRequest,
        InstructionStatus,
        InstructionType,
        Order,
        OrderStatus,
        OrderType,
        Position,
        PositionInstruction,
        PositionType,
        ResponseMetadata,
        SecurityType,
        Side,
        SortBy,
        SortDirection,
        TimeInForce,
    )
    from .results import (
        REJECTED_STATUSES,
        CancelResult,
        CloseResult,
        InstructionsResult,
        PositionsResponse,
        SubmitResult,
    )
    from .retry import RetryPolicy, parse_retry_after

_HOMES = {
    "client": ("DEFAULT_TIMEOUT", "DEFAULT_USER_AGENT", "MAX_PAGE_SIZE", "ClearStreetClient"),
    "config": ("ENVIRONMENT_URLS", "check_api_key", "checked_base_url"),
    "errors": (
        "APIStatusError",
        "ClearStreetConnectionError",
        "ClearStreetError",
        "DeadlineExceededError",
        "OutcomeUnknownError",
        "PaginationLoopError",
    ),
    "models": (
        "GENERATED_KEY_PREFIX",
        "NIL_UUID",
        "APIError",
        "Envelope",
        "InstructionRejection",
        "InstructionRequest",
        "InstructionStatus",
        "InstructionType",
        "Order",
        "OrderStatus",
        "OrderType",
        "Position",
        "PositionInstruction",
        "PositionType",
        "ResponseMetadata",
        "SecurityType",
        "Side",
        "SortBy",
        "SortDirection",
        "TimeInForce",
    ),
    "results": (
        "REJECTED_STATUSES",
        "CancelResult",
        "CloseResult",
        "InstructionsResult",
        "PositionsResponse",
        "SubmitResult",
    ),
    "retry": ("RetryPolicy", "parse_retry_after"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "ENVIRONMENT_URLS",
    "GENERATED_KEY_PREFIX",
    "MAX_PAGE_SIZE",
    "NIL_UUID",
    "REJECTED_STATUSES",
    "APIError",
    "APIStatusError",
    "CancelResult",
    "ClearStreetClient",
    "ClearStreetConnectionError",
    "ClearStreetError",
    "CloseResult",
    "DeadlineExceededError",
    "Envelope",
    "InstructionRejection",
    "InstructionRequest",
    "InstructionStatus",
    "InstructionType",
    "InstructionsResult",
    "Order",
    "OrderStatus",
    "OrderType",
    "OutcomeUnknownError",
    "PaginationLoopError",
    "Position",
    "PositionInstruction",
    "PositionType",
    "PositionsResponse",
    "ResponseMetadata",
    "RetryPolicy",
    "SecurityType",
    "Side",
    "SortBy",
    "SortDirection",
    "SubmitResult",
    "TimeInForce",
    "check_api_key",
    "checked_base_url",
    "parse_retry_after",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
