"""``Secret``: a string that never shows itself in a repr, str or log line; ``redact``: the one
way text is cleaned of the secret values the server holds.

``Secret`` is the one wrapper for every secret the server holds: the Clear Street API key, the HTTP
bearer token, the confirmation-token HMAC key and the Redis ledger's URL (which may carry a
password). ``redact`` cuts any of them out of a text that may have picked one up on the way (an
upstream or a proxy echoing a header, an exception quoting a URL): the audit log's lines and every
tool error pass through it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

__all__ = ["MIN_REDACTED_LENGTH", "REDACTED", "Secret", "known_secrets", "redact"]

REDACTED = "[redacted]"
MIN_REDACTED_LENGTH = 4
"""A shorter value is no secret worth the name (and cutting it out would mangle ordinary words)."""


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


def known_secrets(values: Iterable[str | bytes | None]) -> tuple[str, ...]:
    """The values worth cutting out, longest first (so that a secret containing another goes whole)."""
    texts = {v.decode("utf-8", "ignore") if isinstance(v, bytes) else v for v in values if v}
    return tuple(sorted((t for t in texts if t and len(t) >= MIN_REDACTED_LENGTH), key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` (see ``known_secrets``) replaced by ``[redacted]``."""
    for secret in secrets:
        if secret in text:
            text = REDACTED if text == secret else text.replace(secret, REDACTED)
    return text
