"""A count of positions and its first few examples: the data-quality notes of the exposure summary
and of the scenario result both cite odd rows this way."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EXAMPLES", "Examples", "examples_text"]

EXAMPLES = 3
"""At most this many examples are kept (and cited in a note)."""


class Examples:
    """A count and the first :data:`EXAMPLES` examples, kept as given (each note says how it shows them)."""

    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def hit(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def merged(self, other: Examples) -> Examples:
        """Both counts, and the first examples of this one, then of ``other``."""
        both = Examples()
        both.count = self.count + other.count
        both.examples = (self.examples + other.examples)[:EXAMPLES]
        return both

    def __bool__(self) -> bool:
        return self.count > 0


def examples_text(items: Sequence[str], count: int) -> str:
    """``: A, B, C …`` — the first :data:`EXAMPLES` of ``count`` items, with … when there are more."""
    shown = list(items[:EXAMPLES])
    return f": {', '.join(shown)}{' …' if count > len(shown) else ''}" if shown else ""
