"""``Secret``: a string that never shows itself in a repr, str or log line.

The one wrapper for every secret the server holds: the Clear Street API key, the HTTP bearer token
and the confirmation-token HMAC key.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(type(self))
