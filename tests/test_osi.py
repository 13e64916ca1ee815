"""OSI option symbols: the three renderings, parsing, errors, and round-trip properties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from positions_mcp.domain.osi import (
    OptionRight,
    OptionSymbol,
    parse_osi,
    symbol_key,
    try_parse_osi,
)

AAPL = OptionSymbol("AAPL", date(2028, 1, 21), OptionRight.CALL, Decimal("195"))


# -- examples of OSI symbols as the API writes them -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "AAPL  280121C00195000",  # padded, 21 characters
        "AAPL 280121C00195000",  # single space (seeds, SDK field docs)
        "AAPL280121C00195000",  # compact (Position.symbol example)
        "aapl  280121c00195000",  # lower case
        "  AAPL\t280121C00195000\n",  # stray whitespace
        "AAPL   280121C00195000",  # over-padded
    ],
)
def test_every_rendering_parses_to_the_same_contract(text: str) -> None:
    assert parse_osi(text) == AAPL


def test_fields() -> None:
    symbol = parse_osi("AAPL  280121C00195000")
    assert symbol.root == "AAPL"
    assert symbol.expiry == date(2028, 1, 21)
    assert symbol.right is OptionRight.CALL
    assert symbol.is_call
    assert symbol.strike == Decimal("195")
    put = parse_osi("TSLA 250117P00190500")
    assert put.right is OptionRight.PUT and not put.is_call
    assert put.strike == Decimal("190.5")


def test_renderings() -> None:
    assert AAPL.padded() == "AAPL  280121C00195000"
    assert len(AAPL.padded()) == 21
    assert AAPL.spaced() == "AAPL 280121C00195000"
    assert AAPL.compact() == "AAPL280121C00195000"
    assert str(AAPL) == AAPL.padded()


@pytest.mark.parametrize(
    ("text", "root", "strike"),
    [
        ("F     260417P00012000", "F", Decimal("12")),  # one-letter root
        ("GOOGL 260417C01500000", "GOOGL", Decimal("1500")),  # five letters, one pad space
        ("AAPL1 260417C00195000", "AAPL1", Decimal("195")),  # adjusted option root
        ("BRKB1A260417C00400000", "BRKB1A", Decimal("400")),  # six characters, no pad
        ("BRK.B 260417C00400000", "BRK.B", Decimal("400")),
        ("SPX   260417P00000001", "SPX", Decimal("0.001")),  # smallest strike step
        ("SPX   260417P99999999", "SPX", Decimal("99999.999")),  # largest strike
        ("XYZ   260417C00000000", "XYZ", Decimal("0")),
        ("XYZ   260417C00002500", "XYZ", Decimal("2.5")),
    ],
)
def test_roots_and_strikes(text: str, root: str, strike: Decimal) -> None:
    symbol = parse_osi(text)
    assert (symbol.root, symbol.strike) == (root, strike)
    assert symbol.padded() == text


def test_strike_keeps_exact_thousandths() -> None:
    assert parse_osi("AAPL  280121C00195125").strike == Decimal("195.125")
    assert parse_osi("AAPL  280121C00195125").padded() == "AAPL  280121C00195125"


def test_symbol_key_equates_renderings() -> None:
    keys = {symbol_key(t) for t in ("AAPL  280121C00195000", "aapl 280121c00195000", "AAPL280121C00195000")}
    assert keys == {"AAPL280121C00195000"}
    assert symbol_key(" aapl ") == "AAPL"


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected ROOT"),
        ("AAPL", "expected ROOT"),
        ("280121C00195000", "expected ROOT"),  # no root
        ("AAPL  280121X00195000", "C/P"),  # right not C or P
        ("AAPL  280121C0019500", "8-digit strike"),  # 7 strike digits
        ("AAPL  28012AC00195000", "YYMMDD"),
        ("TOOLONG280121C00195000", "1-6 characters"),  # seven-character root
        ("AA-PL 280121C00195000", "1-6 characters"),
        ("AAPL  281321C00195000", "no valid expiry date"),  # month 13
        ("AAPL  280230C00195000", "no valid expiry date"),  # 30 February
        ("AAPL  ٢٨0121C00195000", "non-ASCII"),  # Arabic-Indic digits
        ("ſPY   280121C00195000", "non-ASCII"),  # long s upper-cases to S
    ],
)
def test_invalid_symbols_raise_value_error_saying_why(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        parse_osi(text)
    assert repr(text) in str(info.value)  # the message quotes the input
    assert try_parse_osi(text) is None


def test_invalid_message_shows_an_example() -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 'AAPL  280121C00195000'"):
        parse_osi("AAPL")


@pytest.mark.parametrize("value", [None, 123, b"AAPL  280121C00195000"])
def test_non_strings_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_osi(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"strike": Decimal("195.1235")}, "steps of 0.001"),  # would be truncated when formatted
        ({"strike": Decimal("100000")}, "0 to 99999.999"),  # would need 9 digits
        ({"strike": Decimal("-1")}, "strike"),
        ({"strike": Decimal("NaN")}, "strike"),
        ({"strike": 195}, "strike"),  # not a Decimal
        ({"root": "aapl"}, "root"),
        ({"root": ""}, "root"),
        ({"root": "TOOLONG"}, "root"),
        ({"expiry": date(1999, 12, 31)}, "2000-2099"),
        ({"right": "CALL"}, "OptionRight"),
    ],
)
def test_option_symbol_refuses_values_it_cannot_render(kwargs: dict[str, Any], fragment: str) -> None:
    fields: dict[str, Any] = {
        "root": "AAPL",
        "expiry": date(2028, 1, 21),
        "right": OptionRight.CALL,
        "strike": Decimal("1"),
    }
    with pytest.raises(ValueError, match=fragment):
        OptionSymbol(**(fields | kwargs))


# -- properties ----------------------------------------------------------------------------

roots = st.from_regex(r"[A-Z0-9.]{1,6}", fullmatch=True)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
strikes = st.integers(min_value=0, max_value=99_999_999).map(lambda n: Decimal(n).scaleb(-3))
symbols = st.builds(OptionSymbol, root=roots, expiry=expiries, right=st.sampled_from(OptionRight), strike=strikes)


@given(symbols)
@example(OptionSymbol("A", date(2000, 1, 1), OptionRight.PUT, Decimal("0")))
@example(OptionSymbol("ZZZZZZ", date(2099, 12, 31), OptionRight.CALL, Decimal("99999.999")))
def test_every_rendering_round_trips(symbol: OptionSymbol) -> None:
    for text in (symbol.padded(), symbol.spaced(), symbol.compact(), str(symbol)):
        assert parse_osi(text) == symbol
        assert parse_osi(text.lower()) == symbol
        assert parse_osi(f"  {text}\t") == symbol
    assert len(symbol.padded()) == 21
    assert symbol.compact() == symbol.padded().replace(" ", "")
    assert symbol.spaced().replace(" ", "") == symbol.compact()
    assert symbol_key(symbol.padded()) == symbol_key(symbol.spaced()) == symbol.compact()


@given(symbols)
def test_rendering_is_canonical(symbol: OptionSymbol) -> None:
    # Parsing then rendering is a fixed point: the padded text is the canonical form.
    padded = symbol.padded()
    assert parse_osi(parse_osi(padded).compact()).padded() == padded


@given(st.text(max_size=30))
@example("AAPL  281321C00195000")
@example("AAPL  000229C00195000")  # 2000 was a leap year: valid
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        symbol = parse_osi(text)
    except ValueError as exc:
        assert str(exc)
        assert try_parse_osi(text) is None
    else:
        assert symbol_key(symbol.compact()) == symbol_key(text)
        assert parse_osi(symbol.padded()) == symbol


@given(st.from_regex(r"[A-Za-z0-9.]{1,6} {0,3}[0-9]{6}[CPcp][0-9]{8}", fullmatch=True))
def test_near_valid_text_round_trips_when_it_parses(text: str) -> None:
    symbol = try_parse_osi(text)
    if symbol is not None:  # only an impossible date (e.g. month 13) is refused
        assert symbol.compact() == symbol_key(text)
