"""A count of positions and its first few examples, and how such a list reads in a note."""

from __future__ import annotations

from collections.abc import Sequence

from ..resolve import display_symbol

__all__ = ["EXAMPLES", "Examples", "examples_text"]

EXAMPLES = 3
_SYMBOL_WIDTH = 32  # an example's display symbol is cut to this many characters


class Examples:
    """A count and the first few display symbols."""

    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def hit(self, symbol: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(display_symbol(symbol)[:_SYMBOL_WIDTH])

    def text(self) -> str:
        """:func:`examples_text` of what was counted."""
        return examples_text(self.examples, self.count)


def examples_text(items: Sequence[str], count: int) -> str:
    """``: A, B, C …`` — the first :data:`EXAMPLES` of ``count`` items, with … when there are more."""
    shown = list(items[:EXAMPLES])
    return f": {', '.join(shown)}{' …' if count > len(shown) else ''}" if shown else ""
