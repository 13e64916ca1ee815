"""Which accounts a call may touch, and which tools its caller may run. Checked before anything
reaches the upstream."""

from __future__ import annotations

from ..settings import ConfirmationMode, Settings
from .grants import AccountGrants
from .identity import Caller


class PolicyError(Exception):
    """A call the configuration does not allow. The message says what to do instead."""


class ScopeError(PolicyError):
    """The caller's access token does not carry the scope this tool needs."""


def require_scope(settings: Settings, caller: Caller, scope: str) -> None:
    """In OAuth mode a call needs a verified person whose token carries ``scope``
    (``identity.READ_SCOPE`` or ``ACT_SCOPE``); without OAuth every call is the local person's."""
    if not settings.oauth:
        return
    if not caller.identified:
        raise ScopeError("this call carries no verified access token: sign in again and retry")
    if not caller.has_scope(scope):
        raise ScopeError(
            f"this needs the scope {scope}, which your access token does not carry (insufficient_scope); "
            f"ask for a token with {scope}, or ask whoever runs the authorization server to grant it"
        )


def accounts_of(settings: Settings, grants: AccountGrants | None, caller: Caller) -> tuple[int, ...] | None:
    """The accounts ``caller`` may touch, in their grants' order, within the allowlist; None when
    no grants are configured (any account the allowlist allows)."""
    if grants is None:
        return None
    allowed = settings.allowed_accounts
    return tuple(a for a in grants.granted(caller.subject, caller.groups) if allowed is None or a in allowed)


def resolve_account(
    settings: Settings,
    account_id: int | None,
    *,
    default: int | None,
    caller: Caller,
    grants: AccountGrants | None = None,
) -> int:
    """The account a call acts on: the one given, else the default; refused outside the allowlist.

    ``default`` is the configured default account, or the simulator's primary demo account. With
    grants (``POSITIONS_MCP_ACCOUNT_GRANTS``) the account must be one of the caller's, and the
    default is per person: the configured default if granted to them, else their first account.
    """
    if settings.oauth and not caller.identified:
        raise PolicyError("this call carries no verified access token: sign in again and retry")
    mine = accounts_of(settings, grants, caller)
    if mine is not None:
        return _granted_account(mine, account_id, default, caller)
    if account_id is None:
        account_id = settings.default_account if settings.default_account is not None else default
        if account_id is None:
            raise PolicyError(
                "no account_id given and no default account is configured: pass account_id, or "
                "set POSITIONS_MCP_DEFAULT_ACCOUNT."
            )
    allowed = settings.allowed_accounts
    if allowed is not None and account_id not in allowed:
        listed = ", ".join(str(a) for a in sorted(allowed))
        raise PolicyError(
            f"account {account_id} is not in POSITIONS_MCP_ALLOWED_ACCOUNTS ({listed}); use one of "
            "those accounts, or ask whoever runs this server to allow it"
        )
    return account_id


def _granted_account(mine: tuple[int, ...], account_id: int | None, default: int | None, caller: Caller) -> int:
    """One of the caller's own accounts. An account not granted is refused exactly as one that
    does not exist: the message never tells a person which accounts others hold."""
    if not mine:
        raise PolicyError(
            f"no account is granted to you ({caller.subject}): ask whoever runs this server to add you "
            "(or a group of yours) to POSITIONS_MCP_ACCOUNT_GRANTS"
        )
    if account_id is None:
        return default if default in mine else mine[0]
    if account_id not in mine:
        listed = ", ".join(str(a) for a in mine)
        raise PolicyError(f"account {account_id} is unknown: your accounts are {listed}; use one of those")
    return account_id


def confirmation_route(mode: ConfirmationMode, client_can_elicit: bool) -> str:
    """How a state change gets its human yes (the confirmation model README.md describes).

    ``elicitation``: ask the person through the client; ``token``: require the preview's token;
    ``refuse``: the mode demands elicitation and this client cannot be asked.
    """
    if mode is ConfirmationMode.TOKEN:
        return "token"
    if client_can_elicit:
        return "elicitation"
    return "refuse" if mode is ConfirmationMode.ELICITATION else "token"
