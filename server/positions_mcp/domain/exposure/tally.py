"""Odd rows counted with their first few symbols, and how a note cites them."""

from __future__ import annotations

__all__ = ["EXAMPLES", "Tally", "cut", "examples"]

EXAMPLES = 3  # at most this many example symbols in a note
_EXAMPLE_WIDTH = 32  # example strings in notes are cut to this many characters


class Tally:
    """A count of odd rows plus the first few of their symbols."""

    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def hit(self, symbol: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(symbol)

    def merged(self, other: Tally) -> Tally:
        both = Tally()
        both.count = self.count + other.count
        both.examples = (self.examples + other.examples)[:EXAMPLES]
        return both

    def __bool__(self) -> bool:
        return self.count > 0


def cut(text: str) -> str:
    """``text`` cut to 32 characters: an odd upstream symbol cannot push the summary past its budget."""
    return text if len(text) <= _EXAMPLE_WIDTH else text[: _EXAMPLE_WIDTH - 1] + "…"


def examples(items: list[str]) -> str:
    """`` (e.g. A, B, C)``, or nothing when there is no example."""
    return f" (e.g. {', '.join(map(cut, items))})" if items else ""
