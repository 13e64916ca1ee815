"""The summary shaped to its size budget (package docstring: the result has a bounded size).

The compact JSON is cut to ``max_json_bytes`` by shortening lists, never by leaving out a section a
person asked about: every list keeps at least one row, and every note stays, until nothing else is
left to shorten. Rows go first from the largest positions, then (a large book's) underliers, share
moves and expiring options, the expiring options last among them, where decisions are due; the
last note says what was cut. A small book keeps every underlier and expiring option unless nothing
else is left to shorten.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..text import counted
from .summary import DeltaExposure, ExposureSummary

__all__ = ["MAX_JSON_BYTES", "fit"]

MAX_JSON_BYTES = 4096
"""Default budget of the summary's compact JSON; lists are shortened (counts kept) to meet it.
4 KB holds the demo book (17 positions, 3,744 B) whole: at 3,000 even one row a list and every note
did not fit without cutting the expiring options. The result carries the JSON once (the text is a
compact rendering of it), so 4 KB of JSON is still fewer bytes than 3 KB sent twice."""


def _json_size(summary: ExposureSummary) -> int:
    return len(summary.model_dump_json().encode())


class _Cut:
    """The summary's lists, shortened in place, and the summary they make."""

    def __init__(self, summary: ExposureSummary, budget: int, by_default: dict[str, int], top5: Decimal | None) -> None:
        self.summary, self.budget, self.by_default, self.top5 = summary, budget, by_default, top5
        self.largest = list(summary.largest.rows) if summary.largest else []
        self.types = list(summary.by_type or ())
        delta = summary.delta
        self.underliers = list(delta.by_underlier.rows) if delta and delta.by_underlier else []
        self.without = list((delta.contracts_without_greeks or {}).items()) if delta else []
        self.expiring = list(summary.expiring.options.rows) if summary.expiring else []
        self.settlement = summary.expiring.at_expiry if summary.expiring else None
        self.moves = list(self.settlement.shares.items()) if self.settlement else []
        self.notes = list(summary.notes)

    def steps(self, small: bool) -> list[tuple[list[Any], int]]:
        """Which list is shortened to how many rows, in order."""
        largest, types, underliers, without = self.largest, self.types, self.underliers, self.without
        moves, expiring, notes = self.moves, self.expiring, self.notes
        steps: list[tuple[list[Any], int]]
        if small:
            steps = [(largest, 5), (largest, 3), (without, 3), (largest, 1), (types, 1), (without, 1)]
        else:
            steps = [
                (largest, 5),
                (underliers, 5),
                (largest, 3),
                (underliers, 3),
                (moves, 3),
                (expiring, 3),
                (largest, 1),
                (underliers, 1),
                (moves, 1),
                (expiring, 1),
                (without, 1),
                (types, 1),
            ]
        # the last resort, when one row of each and every note still does not fit: whole sections go
        last: list[tuple[list[Any], int]] = [
            (notes, 0),
            (without, 0),
            (moves, 0),
            (types, 0),
            (underliers, 0),
            (largest, 0),
            (expiring, 0),
        ]
        return [*steps, *last]

    def candidate(self) -> ExposureSummary:
        """The summary with the lists as they are now, and a note saying what was cut."""
        summary = self.summary
        left_out = len(summary.notes) - len(self.notes)
        what = f"lists and {counted(left_out, 'note', 'notes')}" if left_out else "lists"
        extra = [f"{what} cut to fit {self.budget} bytes; count fields and totals are complete"]
        update: dict[str, Any] = {  # a list cut whole is left out, never shown empty ("no shorts")
            "largest": summary.largest.model_copy(update={"rows": self.largest})
            if self.largest and summary.largest
            else None,
            "by_type": self.types or None if summary.by_type else self.types,
            "notes": self.notes + extra,
        }
        if summary.delta:
            update["delta"] = self._delta()
        if summary.expiring:
            watch = summary.expiring
            watch_update: dict[str, Any] = {"options": watch.options.model_copy(update={"rows": self.expiring})}
            if len(self.expiring) < watch.count:
                watch_update["by_default"] = self.by_default
            if self.settlement is not None:
                watch_update["at_expiry"] = self.settlement.model_copy(update={"shares": dict(self.moves)})
            update["expiring"] = watch.model_copy(update=watch_update)
        return summary.model_copy(update=update)

    def _delta(self) -> DeltaExposure:
        delta = self.summary.delta
        assert delta is not None
        table = delta.by_underlier
        delta_update: dict[str, Any] = {
            # a table cut whole is left out, never shown empty
            "by_underlier": table.model_copy(update={"rows": self.underliers}) if table and self.underliers else None,
            "contracts_without_greeks": dict(self.without) or None,
        }
        if len(self.underliers) < delta.underliers:
            delta_update["top5_pct"] = self.top5
        return delta.model_copy(update=delta_update)


def fit(
    summary: ExposureSummary, budget: int, small: bool, by_default: dict[str, int], top5: Decimal | None
) -> ExposureSummary:
    """Shorten the lists and then the notes until the compact JSON fits ``budget``. A shortened list
    gets back the counts its rows no longer show (``by_default``, ``top5_pct``)."""
    if _json_size(summary) <= budget:
        return summary
    cut = _Cut(summary, budget, by_default, top5)
    current = cut.candidate()
    for rows, floor in cut.steps(small):
        while len(rows) > floor and _json_size(current) > budget:
            rows.pop()
            current = cut.candidate()
    # a later cut may have made room for notes an earlier step dropped: take back what fits, in order
    for note in summary.notes[len(cut.notes) :]:
        cut.notes.append(note)
        trial = cut.candidate()
        if _json_size(trial) > budget:
            cut.notes.pop()
            break
        current = trial
    return current
