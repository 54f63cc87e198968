"""Index key encoding (spec 1.7): exact strings and byte-order properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capillaries_provider.expr.keys import KeyComponent, build_key, encode_component, row_key
from capillaries_provider.expr.types import INT64_MAX, INT64_MIN, FieldType

INT = KeyComponent("i", FieldType.INT)
INT_DESC = KeyComponent("i", FieldType.INT, desc=True)
FLOAT = KeyComponent("f", FieldType.FLOAT)
FLOAT_DESC = KeyComponent("f", FieldType.FLOAT, desc=True)
DEC = KeyComponent("d", FieldType.DECIMAL2)
DEC_DESC = KeyComponent("d", FieldType.DECIMAL2, desc=True)
TIME = KeyComponent("t", FieldType.DATETIME)
TIME_DESC = KeyComponent("t", FieldType.DATETIME, desc=True)
BOOL = KeyComponent("b", FieldType.BOOL)
STR16 = KeyComponent("s", FieldType.STRING, str_len=16)


# ---- spec 1.7 examples ------------------------------------------------------------------------------------------


def test_spec_examples() -> None:
    assert encode_component(5, INT) == "000000000000000000005"
    assert encode_component(-1, INT) == "-99999999999999999998"
    assert encode_component(1.5, FLOAT) == "0" + "0" * 32 + "1.50000000000000000000000000000000"
    assert len(encode_component(1.5, FLOAT)) == 67
    assert encode_component(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), TIME) == "00062135596800000000"
    assert encode_component(True, KeyComponent("b", FieldType.BOOL, desc=True)) == "ab"
    assert encode_component("Café", KeyComponent("s", FieldType.STRING, ignore_case=True, str_len=16)) == (
        "CAFE" + " " * 12
    )


def test_int_edges() -> None:
    assert encode_component(0, INT) == "000000000000000000000"
    assert encode_component(INT64_MAX, INT) == "009223372036854775807"
    assert encode_component(INT64_MIN + 1, INT) == "-90776627963145224192"
    # Go's -MinInt64 overflows and %020d prints the minus sign; the key still sorts first.
    assert encode_component(INT64_MIN, INT) == "--0776627963145224191"
    assert encode_component(INT64_MIN, INT) < encode_component(INT64_MIN + 1, INT)


def test_negative_float_flips_digits_and_keeps_point() -> None:
    key = encode_component(-1.5, FLOAT)
    assert key == "-" + "9" * 32 + "8.49999999999999999999999999999999"
    # -0.0 >= 0 takes the positive branch, and Go's %066.32f prints its minus sign.
    assert encode_component(-0.0, FLOAT) == "0-" + "0" * 32 + "." + "0" * 32


def test_float_specials_pad_with_spaces_like_go() -> None:
    assert encode_component(float("inf"), FLOAT) == "0" + " " * 62 + "+Inf"
    assert encode_component(float("nan"), FLOAT) == "-" + " " * 63 + "NaN"


def test_decimal_goes_through_float64() -> None:
    assert encode_component(Decimal("12.30"), DEC) == encode_component(12.3, FLOAT)
    assert encode_component(Decimal("-0.01"), DEC) == encode_component(-0.01, FLOAT)
    assert encode_component(Decimal("0.1"), DEC) == "0" + "0" * 32 + "0.10000000000000000555111512312578"


def test_datetime_is_microseconds_since_year_one() -> None:
    assert encode_component(dt.datetime(1, 1, 1, tzinfo=dt.UTC), TIME) == "0" * 20
    t = dt.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert encode_component(t, TIME) == "00063713523845123456"


def test_string_padding_truncation_and_accents() -> None:
    comp = KeyComponent("s", FieldType.STRING, str_len=16)
    assert encode_component("abc", comp) == "abc" + " " * 13
    assert encode_component("a" * 20, comp) == "a" * 16
    assert encode_component("Ärger über Öl", comp) == "Arger uber Ol   "
    # 15 ASCII bytes + a 3-byte rune cut after its first byte -> one U+FFFD per dangling byte.
    assert encode_component("x" * 15 + "日", comp) == "x" * 15 + "\ufffd"
    assert encode_component("x" * 14 + "日", comp) == "x" * 14 + "\ufffd\ufffd"
    # Padding counts runes, truncation counts bytes: "日本" (6 bytes) + 14 spaces = 20 bytes -> cut to 16.
    assert encode_component("日本", comp) == "日本" + " " * 10


def test_ignore_case_uses_go_simple_upper_case() -> None:
    comp = KeyComponent("s", FieldType.STRING, ignore_case=True, str_len=16)
    assert encode_component("straße ﬁx", comp) == "STRAßE ﬁX" + " " * 4
    assert encode_component("ŉ ı ſ", comp) == "ŉ I S" + " " * 8
    # NFD + removal of nonspacing marks happens first: the iota subscript of ᾳ is stripped.
    assert encode_component("ᾳ", comp) == "Α" + " " * 14
    sensitive = KeyComponent("s", FieldType.STRING, str_len=16)
    assert encode_component("AbC", sensitive) == "AbC" + " " * 13


def test_desc_inverts_bytes_as_hex() -> None:
    assert encode_component(5, INT_DESC) == bytes(0xFF - b for b in b"000000000000000000005").hex()
    assert encode_component("é", KeyComponent("s", FieldType.STRING, desc=True, str_len=16)) == ("9a" + "df" * 15)


def test_build_key_concatenates_in_component_order() -> None:
    key = build_key([7, "ab", False], [INT, STR16, BOOL])
    assert key == "000000000000000000007" + "ab" + " " * 14 + "F"
    with pytest.raises(ValueError):
        build_key([7], [INT, BOOL])


def test_type_mismatch_is_an_error_naming_the_field() -> None:
    with pytest.raises(TypeError, match="field i"):
        encode_component(1.5, INT)
    with pytest.raises(TypeError):
        encode_component(True, INT)


# ---- ordering properties ----------------------------------------------------------------------------------------


def _assert_order(a: object, b: object, asc: KeyComponent, desc: KeyComponent) -> None:
    ka, kb = encode_component(a, asc).encode(), encode_component(b, asc).encode()  # type: ignore[arg-type]
    da, db = encode_component(a, desc).encode(), encode_component(b, desc).encode()  # type: ignore[arg-type]
    assert (a < b) == (ka < kb)  # type: ignore[operator]
    assert (a == b) == (ka == kb)
    assert (a < b) == (da > db)  # type: ignore[operator]


@given(st.integers(INT64_MIN, INT64_MAX), st.integers(INT64_MIN, INT64_MAX))
def test_int_keys_preserve_order(a: int, b: int) -> None:
    _assert_order(a, b, INT, INT_DESC)


# Encodable without collisions: magnitude below 1e33 (fits the 66-char padding) and, when non-zero, at least
# 1e-10 so that distinct floats still differ within the 32 decimals of %.32f.
encodable_floats = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-10, max_value=1e33),
    st.floats(min_value=-1e33, max_value=-1e-10),
)


@given(encodable_floats, encodable_floats)
def test_float_keys_preserve_order(a: float, b: float) -> None:
    _assert_order(a, b, FLOAT, FLOAT_DESC)


decimals2 = st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False, allow_infinity=False)


@given(decimals2, decimals2)
def test_decimal2_keys_preserve_order(a: Decimal, b: Decimal) -> None:
    _assert_order(a, b, DEC, DEC_DESC)


datetimes = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.UTC))


@given(datetimes, datetimes)
def test_datetime_keys_preserve_order(a: dt.datetime, b: dt.datetime) -> None:
    _assert_order(a, b, TIME, TIME_DESC)


ascii_strings = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16)


@given(ascii_strings, ascii_strings)
def test_string_keys_preserve_order(a: str, b: str) -> None:
    # Trailing spaces are padding, so strings are drawn without spaces; comparison is case-sensitive bytes.
    _assert_order(a, b, STR16, KeyComponent("s", FieldType.STRING, desc=True, str_len=16))


@given(st.booleans(), st.booleans())
def test_bool_keys_preserve_order(a: bool, b: bool) -> None:
    _assert_order(a, b, BOOL, KeyComponent("b", FieldType.BOOL, desc=True))


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80), st.integers(16, 70), st.booleans())
def test_ascii_fast_path_equals_the_unicode_path(s: str, length: int, ignore_case: bool) -> None:
    """ASCII strings skip normalisation; the result must equal the general NFD/Mn/NFC, pad, cut, upper path."""
    import unicodedata

    stripped = unicodedata.normalize(
        "NFC", "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    )
    expected = stripped.ljust(length).encode()[:length].decode()
    expected = expected.upper() if ignore_case else expected
    comp = KeyComponent("f", FieldType.STRING, ignore_case=ignore_case, str_len=length)
    assert encode_component(s, comp) == expected


_VALUES: dict[FieldType, st.SearchStrategy[object]] = {
    FieldType.INT: st.integers(INT64_MIN, INT64_MAX),
    FieldType.BOOL: st.booleans(),
    FieldType.FLOAT: st.floats(allow_nan=False),
    FieldType.DECIMAL2: st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
    ),
    FieldType.STRING: st.text(alphabet="abXY z-é", max_size=20),  # mostly ASCII, longer and shorter than str_len
    FieldType.DATETIME: st.datetimes(timezones=st.just(dt.UTC)),
}


@st.composite
def _component_and_value(draw: st.DrawFn) -> tuple[FieldType, bool, bool, int, object]:
    """A key component and a value: of the component's type, or (1 in 8) of a random type."""
    t = draw(st.sampled_from(list(FieldType)))
    value_type = draw(st.sampled_from(list(FieldType))) if draw(st.integers(0, 7)) == 0 else t
    return t, draw(st.booleans()), draw(st.booleans()), draw(st.integers(1, 12)), draw(_VALUES[value_type])


@settings(max_examples=400)
@given(st.lists(_component_and_value(), min_size=1, max_size=3))
def test_row_key_equals_build_key(fields: list[tuple[FieldType, bool, bool, int, object]]) -> None:
    """The per-index compiled key function gives build_key's key, or raises where build_key raises."""
    comps = [KeyComponent(f"f{i}", t, desc, ic, n) for i, (t, desc, ic, n, _) in enumerate(fields)]
    row = {f"f{i}": v for i, (*_, v) in enumerate(fields)}
    try:
        expected = build_key(list(row.values()), comps)  # type: ignore[arg-type]
    except TypeError:
        with pytest.raises(TypeError):
            row_key(comps)(row)  # type: ignore[arg-type]
    else:
        assert row_key(comps)(row) == expected  # type: ignore[arg-type]
