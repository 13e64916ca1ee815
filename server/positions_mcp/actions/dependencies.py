"""The shared objects every use-case needs, built once from the settings and passed in.

The MCP surface holds one :class:`Dependencies` in its lifespan context; tests build their own
(with a recording ``transport``, and a ``retry`` policy that does not wait). The state-changing pieces (audit log, ledger, token signer) are
opened on first use: a read-only server never touches them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ..safety.identity import Caller
from ..safety.policy import accounts_of, resolve_account
from ..settings import Settings
from .action_errors import OutOfTime
from .upstream import Upstream

if TYPE_CHECKING:
    import httpx

    from ..clearstreet.retry import RetryPolicy
    from ..safety.audit import AuditLog
    from ..safety.grants import AccountGrants
    from ..safety.ledger import Ledger
    from ..safety.tokens import ConfirmationTokens
    from ..simulator import Simulator

TOKEN_SECRET_FILE = "token-secret"


class StartupProblem(Exception):
    """A state-changing server cannot start: ``setting`` names what to fix, ``remedy`` how."""

    def __init__(self, setting: str, detail: str, remedy: str = "choose a writable path") -> None:
        self.setting = setting
        self.remedy = remedy
        super().__init__(f"{setting}: {detail}")


def audit_log_path(settings: Settings) -> Path:
    from ..safety.audit import default_audit_log_path

    return settings.audit_log or default_audit_log_path()


def ledger_path(settings: Settings) -> Path:
    """The SQLite ledger's file; beside it, the token key when none is configured. (A Redis ledger
    requires a configured key, so no file is kept for it.)"""
    from ..safety.ledger import DEFAULT_FILE_NAME

    if isinstance(settings.ledger, Path):
        return settings.ledger
    return audit_log_path(settings).parent / DEFAULT_FILE_NAME


@dataclass
class Dependencies:
    settings: Settings
    upstream: Upstream = field(init=False)
    simulator: Simulator | None = None
    transport: httpx.AsyncBaseTransport | None = None
    retry: RetryPolicy | None = None
    """The client's retry policy (None: the default); tests pass one whose ``sleep`` records the
    waits instead of taking them."""

    def __post_init__(self) -> None:
        self.upstream = Upstream(self.settings, self.simulator, self.transport, self.retry)

    @property
    def environment(self) -> str:
        return self.settings.environment_label

    def account(self, account_id: int | None, caller: Caller) -> int:
        """The account ``caller``'s call acts on (the default when omitted); PolicyError outside the
        allowlist or the caller's grants."""
        return resolve_account(
            self.settings, account_id, default=self.upstream.default_account, caller=caller, grants=self.grants
        )

    def accounts_of(self, caller: Caller) -> tuple[int, ...] | None:
        """The accounts ``caller`` may touch; None: any the allowlist allows."""
        return accounts_of(self.settings, self.grants, caller)

    @cached_property
    def grants(self) -> AccountGrants | None:
        """The per-person grants (POSITIONS_MCP_ACCOUNT_GRANTS), read once; ConfigError when the
        file is wrong (checked at start-up)."""
        if self.settings.account_grants is None:
            return None
        from ..safety.grants import load_grants

        return load_grants(self.settings.account_grants)

    @cached_property
    def token_secret(self) -> bytes:
        """POSITIONS_MCP_TOKEN_SECRET, else a random key kept beside the ledger (0600), so a
        preview's token survives a restart; single use is the ledger's job."""
        if self.settings.token_secret is not None:
            return self.settings.token_secret.reveal().encode()
        from ..safety.tokens import load_or_create_secret

        return load_or_create_secret(ledger_path(self.settings).parent / TOKEN_SECRET_FILE)

    @cached_property
    def audit(self) -> AuditLog:
        from ..safety.audit import AuditLog

        return AuditLog(audit_log_path(self.settings), secrets=self.settings.secrets, clock=self.upstream.local_now)

    @cached_property
    def ledger(self) -> Ledger:
        """The Redis ledger the replicas share, when configured; else the SQLite file."""
        redis = self.settings.redis_ledger
        if redis is not None:
            from ..safety.redis_ledger import RedisLedger

            return RedisLedger(redis)
        from ..safety.ledger import SqliteLedger

        return SqliteLedger(ledger_path(self.settings))

    @property
    def loaded_secrets(self) -> tuple[bytes, ...]:
        """Secrets read since start-up that the settings do not hold: the token key from its file."""
        return (self.token_secret,) if "token_secret" in self.__dict__ else ()

    @cached_property
    def tokens(self) -> ConfirmationTokens:
        from ..safety.tokens import ConfirmationTokens

        secret = self.token_secret
        self.audit.register_secret(secret)  # a key read from its file is never written either
        return ConfirmationTokens(secret, self.settings.confirm_ttl, self.upstream.local_now)

    def check_state_changing(self) -> None:
        """Open the audit log, the ledger and the token key, in that order: a server that could not
        audit or guarantee single use refuses to start. Raises ``StartupProblem`` naming the setting."""
        from ..safety.ledger import LedgerError

        checks = (
            ("POSITIONS_MCP_AUDIT_LOG", lambda: self.audit.check_writable()),
            ("POSITIONS_MCP_LEDGER", lambda: self.ledger.check()),
            ("POSITIONS_MCP_TOKEN_SECRET", lambda: self.tokens),
        )
        for setting, check in checks:
            try:
                check()
            except (OSError, LedgerError) as exc:
                detail = (
                    f"cannot write {exc.filename} ({exc.strerror or exc})" if isinstance(exc, OSError) else str(exc)
                )
                if setting == "POSITIONS_MCP_TOKEN_SECRET":
                    detail = f"is not set and the key file beside the ledger {detail.removeprefix('cannot write ')}"
                if setting == "POSITIONS_MCP_LEDGER" and self.settings.redis_ledger is not None:
                    raise StartupProblem(setting, detail, "start Redis or correct the URL") from None
                raise StartupProblem(setting, detail) from None

    @asynccontextmanager
    async def deadline(self, doing: str) -> AsyncIterator[None]:
        """Bound the enclosed work by POSITIONS_MCP_CALL_TIMEOUT; running out is an ActionError
        saying what was being done (nothing state-changing is ever cut off: see clearstreet._requester)."""
        seconds = self.settings.call_timeout
        try:
            with anyio.fail_after(seconds):
                yield
        except TimeoutError:
            raise OutOfTime(
                f"Ran out of time ({seconds} s, POSITIONS_MCP_CALL_TIMEOUT) while {doing}. Nothing was sent. "
                "The Clear Street API is slow or unreachable: try again in a moment."
            ) from None

    async def aclose(self) -> None:
        await self.upstream.aclose()
        if "ledger" in self.__dict__:
            self.ledger.close()
