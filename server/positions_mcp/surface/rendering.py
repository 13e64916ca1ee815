"""The text a model reads of a tool result: the structured content, rendered compactly once.

A result travels twice in MCP: ``structuredContent`` for programs, and text content for the model.
Repeating the JSON as text doubled every result, so the text is a rendering of the same data:

* a scalar is a ``key: value`` line; a nested object is its ``key:`` line and its fields indented;
* a list of objects (rows) is a table: ``key (N rows):``, one ``a|b|c`` header, one line a row, cells split by ``|``;
  a column empty in every row is left out, and a column with the same value in every row is said
  once above the table (``same in every row: account_id 777``);
* a ``{"columns": [...], "rows": [...]}`` object (the exposure summary's tables) is the same table;
* a list of scalars is one line, comma-separated; a list of notes (text) is one line each.

Long rows (``_TEXT_COLUMNS``) show in the text the columns a person reads and names an instrument
by (its symbol: every tool takes a ticker or OSI symbol as well as a UUID); the table says so, and
every field of every row stays in the structured content. A null is left out, as the JSON text did.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["render"]

_TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "positions": (
        "symbol",
        "instrument_type",
        "position_type",
        "quantity",
        "instrument_price",
        "market_value",
        "unrealized_pnl",
    ),
}
"""Lists whose rows are long: the columns the text table shows (the rest is in structured content)."""

_INDENT = "  "


def render(data: Mapping[str, Any], *, every_column: bool = False) -> str:
    """The text of a result whose structured content is ``data`` (see the module's docstring).
    ``every_column``: every field of every row, for a document that travels without structured
    content (the positions resource)."""
    return "\n".join(_fields(data, "", {} if every_column else _TEXT_COLUMNS))


def _fields(data: Mapping[str, Any], indent: str, choice: Mapping[str, tuple[str, ...]]) -> Iterator[str]:
    for key, value in data.items():
        if value is None:
            continue
        yield from _field(key, value, indent, choice)


def _field(key: str, value: Any, indent: str, choice: Mapping[str, tuple[str, ...]]) -> Iterator[str]:
    if isinstance(value, Mapping):
        if _is_table(value):
            yield from _table(key, list(value["columns"]), [list(row) for row in value["rows"]], indent, None)
        elif value:
            yield f"{indent}{key}:"
            yield from _fields(value, indent + _INDENT, choice)
        else:
            yield f"{indent}{key}: none"
    elif isinstance(value, list):
        yield from _list(key, value, indent, choice.get(key))
    else:
        yield f"{indent}{key}: {_cell(value)}"


def _list(key: str, items: list[Any], indent: str, chosen: tuple[str, ...] | None) -> Iterator[str]:
    if not items:
        yield f"{indent}{key}: none"
    elif all(isinstance(item, Mapping) for item in items):
        columns: dict[str, None] = {}
        for item in items:
            columns.update(dict.fromkeys(item))
        yield from _table(key, list(columns), [[item.get(c) for c in columns] for item in items], indent, chosen)
    elif all(isinstance(item, str) for item in items) and any(len(item) > 40 for item in items):
        yield f"{indent}{key}:"
        yield from (f"{indent}{_INDENT}- {item}" for item in items)
    else:
        yield f"{indent}{key}: {', '.join(_cell(item) for item in items)}"


def _is_table(value: Mapping[str, Any]) -> bool:
    return set(value) == {"columns", "rows"} and isinstance(value["columns"], list)


def _table(
    key: str, columns: list[str], rows: list[list[Any]], indent: str, chosen: tuple[str, ...] | None
) -> Iterator[str]:
    count = f"{len(rows)} row" + ("" if len(rows) == 1 else "s")
    if not rows:
        yield f"{indent}{key}: none"
        return
    shown = [i for i, name in enumerate(columns) if chosen is None or name in chosen]
    if chosen is not None and len(shown) < len(columns):
        count += "; the text shows " + ", ".join(columns[i] for i in shown) + ", structured content every field"
    yield f"{indent}{key} ({count}):"
    kept: list[int] = []
    same: list[str] = []
    for i in shown:
        values = {_cell(row[i]) for row in rows if row[i] is not None}
        if not values:
            continue  # empty in every row
        if len(rows) > 1 and len(values) == 1 and all(row[i] is not None for row in rows):
            same.append(f"{columns[i]} {values.pop()}")
        else:
            kept.append(i)
    inner = indent + _INDENT
    if same:
        yield f"{inner}same in every row: {', '.join(same)}"
    if kept:
        yield inner + "|".join(columns[i] for i in kept)
        yield from (inner + "|".join(_cell(row[i]) for i in kept) for row in rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_cell(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(_cell(item) for item in value)
    return str(value)
