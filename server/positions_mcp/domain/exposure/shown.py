"""How the summary shows an upstream string (a symbol, a name, a type) and the examples a note
cites, each cut short: an odd upstream symbol cannot push the summary past its size budget."""

from __future__ import annotations

__all__ = ["cut", "for_example"]

_WIDTH = 32  # an upstream string is shown in at most this many characters


def cut(text: str) -> str:
    """``text`` cut to 32 characters, the last an ellipsis when anything was cut."""
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def for_example(items: list[str]) -> str:
    """`` (e.g. A, B, C)``, or nothing when there is no example."""
    return f" (e.g. {', '.join(map(cut, items))})" if items else ""
