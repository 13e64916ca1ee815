"""Who may call what: the bearer key (401), the account id of the path (400), the key's access to
it (403) and its existence (404), checked in that order. Market-data, instrument and calendar
routes need only a valid key.

A route runs under the state's lock from its first check to its answer, so it sees and leaves a
consistent state; the transitions due by now run first (``SimulatorState.catch_up``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.requests import Request

from .accounts import Account
from .state import SimulatorState
from .wire import ApiError

FORBIDDEN_MESSAGE = "The caller does not have permission to execute the specified operation"
_ACCOUNT_ID = re.compile(r"[0-9]{1,19}")
_MAX_ACCOUNT_ID = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Access:
    state: SimulatorState
    api_keys: Mapping[str, frozenset[int]] | None
    """None: any non-empty key, on any account; else each key on its accounts."""

    @contextmanager
    def account(self, request: Request) -> Iterator[Account]:
        """Under the lock, caught up: the account of the path, once the key may use it."""
        with self.state.lock:
            self.state.catch_up()
            yield self.authorize(request)

    @contextmanager
    def key(self, request: Request, *, catch_up: bool = True) -> Iterator[None]:
        """Under the lock (caught up unless told otherwise): a valid key, on no account."""
        with self.state.lock:
            if catch_up:
                self.state.catch_up()
            self.authenticate(request)
            yield

    def authorize(self, request: Request) -> Account:
        """The account of the path, once the key is valid (401) and may use it (403)."""
        allowed = self.authenticate(request)
        text = request.path_params["account_id"]
        if not _ACCOUNT_ID.fullmatch(text) or int(text) > _MAX_ACCOUNT_ID:
            raise ApiError(400, f"account_id must be a non-negative 64-bit integer, got {text!r}")
        account_id = int(text)
        if allowed is not None and account_id not in allowed:
            raise ApiError(403, FORBIDDEN_MESSAGE)
        account = self.state.accounts.get(account_id)
        if account is None:
            raise ApiError(404, f"Account {account_id} not found")
        return account

    def authenticate(self, request: Request) -> frozenset[int] | None:
        """The accounts the bearer key may use (None: any); 401 without a valid key."""
        header = request.headers.get("authorization")
        challenge = {"WWW-Authenticate": "Bearer"}
        if not header:
            raise ApiError(
                401, "Missing Authorization header: send 'Authorization: Bearer <api key>'", headers=challenge
            )
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "The Authorization header must be 'Bearer <api key>'", headers=challenge)
        allowed: frozenset[int] | None = None
        if self.api_keys is not None:
            allowed = self.api_keys.get(key)
            if allowed is None:
                raise ApiError(401, "Invalid API key", headers=challenge)
        return allowed
