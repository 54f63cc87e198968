"""Index key strings (spec 1.7, Capillaries ``BuildKey``).

Index tables, lookups, ``top`` ordering and dependency event ordering all compare these strings byte-wise, so
each component is encoded so that byte order equals value order: numbers are sign-prefixed, zero-padded and
digit-flipped when negative, strings are padded to a fixed width, and ``desc`` components invert every byte.

Limits of the encoding (inherited from Go, kept for key compatibility):
- float/decimal2: ``%.32f`` of the magnitude padded to 66 characters. Order is exact for magnitudes below 1e34
  whose values differ within 32 decimal places; smaller differences collapse into equal keys. -0.0 takes the
  non-negative branch and keeps Go's printed minus sign (``0-000…``), sorting just below +0.0.
- int: ``-MinInt64`` overflows in Go, so MinInt64 encodes as ``--0776627963145224191`` (still the smallest key).
- string: padded to ``str_len`` runes, then cut to ``str_len`` bytes, which can split a multi-byte character;
  each byte of such a dangling sequence becomes U+FFFD, as Go's ``strings.ToUpper`` renders it.
"""

from __future__ import annotations

import datetime as _dt
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from capillaries_provider.expr.gofmt import sprintf
from capillaries_provider.expr.types import INT64_MIN, FieldType, Value

_FLIP_DIGITS = str.maketrans("0123456789", "9876543210")
_YEAR1 = _dt.datetime(1, 1, 1, tzinfo=_dt.UTC)


@dataclass(frozen=True)
class KeyComponent:
    """One field of an index or order definition, e.g. `name(desc, ignore_case, 32)`."""

    field: str
    field_type: FieldType
    desc: bool = False
    ignore_case: bool = False
    str_len: int = 64


def _encode_int(v: int) -> str:
    if v >= 0:
        return f"0{v:020d}"
    if v == INT64_MIN:  # Go: -v overflows back to MinInt64, whose %020d keeps its own minus sign
        return "-" + f"{v:020d}".translate(_FLIP_DIGITS)
    return "-" + f"{-v:020d}".translate(_FLIP_DIGITS)


def _encode_float(v: float) -> str:
    if v >= 0:
        sign, magnitude = "0", v
    else:  # also NaN, as in Go (NaN >= 0 is false)
        sign, magnitude = "-", -v
    # Go pads +Inf/NaN with spaces; -0.0 (>= 0) keeps its minus sign like Go's %066.32f.
    digits = f"{magnitude:066.32f}" if math.isfinite(magnitude) else sprintf("%066.32f", [magnitude])
    return sign + (digits.translate(_FLIP_DIGITS) if sign == "-" else digits)


def _encode_datetime(t: _dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    delta = t - _YEAR1
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros:020d}"


def _go_upper(ch: str) -> str:
    """Go unicode.ToUpper: the simple (one-rune) mapping; runes without one (ß, ligatures) stay unchanged."""
    up = ch.upper()
    return up if len(up) == 1 else ch


def _encode_string(s: str, length: int, ignore_case: bool) -> str:
    if s.isascii():  # the common case: no accents to strip, one byte per rune
        text = s.ljust(length)[:length]
        return text.upper() if ignore_case else text
    decomposed = unicodedata.normalize("NFD", s)
    stripped = unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))
    padded = stripped + " " * (length - len(stripped)) if len(stripped) < length else stripped
    raw = padded.encode("utf-8")[:length]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # the cut split the last character: one U+FFFD per dangling byte
        text = raw[: exc.start].decode("utf-8") + "\ufffd" * (len(raw) - exc.start)
    if ignore_case:
        text = text.upper() if text.isascii() else "".join(_go_upper(c) for c in text)
    return text


def encode_component(value: Value, comp: KeyComponent) -> str:
    """The key text of one component value (spec 1.7); `desc` inverts each UTF-8 byte and hex-encodes it."""
    t = comp.field_type
    if t is FieldType.INT and isinstance(value, int) and not isinstance(value, bool):
        text = _encode_int(value)
    elif t is FieldType.FLOAT and isinstance(value, float):
        text = _encode_float(value)
    elif t is FieldType.DECIMAL2 and isinstance(value, Decimal):
        text = _encode_float(float(value))
    elif t is FieldType.DATETIME and isinstance(value, _dt.datetime):
        text = _encode_datetime(value)
    elif t is FieldType.STRING and isinstance(value, str):
        text = _encode_string(value, comp.str_len, comp.ignore_case)
    elif t is FieldType.BOOL and isinstance(value, bool):
        text = "T" if value else "F"
    else:
        raise TypeError(
            f"cannot build key for field {comp.field}: expected {t.value}, got {type(value).__name__} {value!r}"
        )
    if comp.desc:
        return bytes(0xFF - b for b in text.encode("utf-8")).hex()
    return text


def _component_encoder(comp: KeyComponent) -> Callable[[Value], str]:
    """`encode_component` bound to one component, with the ascending int and ASCII string cases short-circuited."""
    if comp.desc or (comp.field_type is FieldType.STRING and comp.ignore_case):
        return lambda value: encode_component(value, comp)
    if comp.field_type is FieldType.STRING:
        width = comp.str_len
        return lambda value: (
            value.ljust(width)[:width] if type(value) is str and value.isascii() else encode_component(value, comp)
        )
    if comp.field_type is FieldType.INT:
        return lambda value: _encode_int(value) if type(value) is int else encode_component(value, comp)
    return lambda value: encode_component(value, comp)


def row_key(components: Sequence[KeyComponent]) -> Callable[[Mapping[str, Value]], str]:
    """The function computing `build_key` of a row's component fields; built once per index, called per row."""
    encoders = [(c.field, _component_encoder(c)) for c in components]
    if len(encoders) == 1:
        ((field, encode),) = encoders
        return lambda row: encode(row[field])
    return lambda row: "".join([encode(row[field]) for field, encode in encoders])


def build_key(values: Sequence[Value], components: Sequence[KeyComponent]) -> str:
    """Go BuildKey: the concatenation of the component encodings, in component order."""
    if len(values) != len(components):
        raise ValueError(f"key needs {len(components)} values, got {len(values)}")
    return "".join(encode_component(v, c) for v, c in zip(values, components, strict=True))
