"""Which accounts a call may touch. Checked before anything reaches the upstream."""

from __future__ import annotations

from ..settings import ConfirmationMode, Settings


class PolicyError(Exception):
    """A call the configuration does not allow. The message says what to do instead."""


def resolve_account(settings: Settings, account_id: int | None, *, default: int | None) -> int:
    """The account a call acts on: the one given, else the default; refused outside the allowlist.

    ``default`` is the configured default account, or the simulator's primary demo account.
    """
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
