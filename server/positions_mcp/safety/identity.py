"""Who a call comes from: the person an access token names, as the surface verified it.

The surface only passes a ``Caller`` down; what the caller may do (which accounts, which tools) is
decided here in ``safety`` (``policy``, ``grants``). Without OAuth every call is ``LOCAL``: the
person who started the server (stdio) or holds its one shared HTTP token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ACT_SCOPE", "LOCAL", "READ_SCOPE", "SCOPES", "Caller", "caller_from_claims"]

READ_SCOPE = "positions:read"
"""The read tools and resources."""
ACT_SCOPE = "positions:act"
"""The previews and the state-changing tools."""
SCOPES = (READ_SCOPE, ACT_SCOPE)


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity behind one call. ``subject`` is the token's ``sub`` (None: no OAuth,
    the local person); ``scopes`` None means no OAuth either (every tool the settings offer)."""

    subject: str | None = None
    client_id: str | None = None
    scopes: frozenset[str] | None = None
    groups: tuple[str, ...] = ()

    @property
    def identified(self) -> bool:
        return self.subject is not None

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes

    @property
    def audited(self) -> dict[str, str | None]:
        """What every audit line says of the caller (nothing without OAuth: the person is local)."""
        if self.subject is None:
            return {}
        return {"subject": self.subject, "client_id": self.client_id}


LOCAL = Caller()


def _strings(value: Any) -> tuple[str, ...]:
    """A claim holding names: a JSON list of strings, or one string of space-separated names (how
    ``scope`` is written, RFC 8693 section 4.2; Entra ID writes ``scp`` so too)."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def caller_from_claims(
    subject: str, client_id: str | None, scopes: Iterable[str], claims: Mapping[str, Any], groups_claim: str
) -> Caller:
    """The caller a verified access token names; its groups from ``groups_claim`` (a list of
    names, or one name)."""
    raw = claims.get(groups_claim)
    groups = (raw,) if isinstance(raw, str) and raw else _strings(raw)
    return Caller(subject=subject, client_id=client_id or None, scopes=frozenset(scopes), groups=groups)
