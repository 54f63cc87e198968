"""CSV cell -> Capillaries value, exactly as Capillaries' file reader converts it (spec 1.5 table).

The rules are Go's, not Python's: emptiness is tested after trimming, but the text that is parsed is never
trimmed (`" 5"` fails ParseInt while `Sscanf("%d")` skips the blank); decimal2 with a format goes through a
float64; a format on a string or bool column is an error on every row, empty cells included. A converter is built
once per column (`make_converter`) so the per-cell work is a single call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache

from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.expr import gotime
from capillaries_provider.expr.godecimal import decimal_from_float, decimal_from_string, round_half_away
from capillaries_provider.expr.gofmt import parse_bool, parse_float, parse_int, sscanf_float, sscanf_int
from capillaries_provider.expr.types import FieldType, Value

# Go unicode.IsSpace, used by strings.TrimSpace (Python's str.strip() also strips U+001C..U+001F).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"

Converter = Callable[[str], Value]


class CellConversionError(FileReadError):
    """A cell that Capillaries cannot convert; names the file, line and column."""

    def __init__(self, source: str, line: int, column: str, message: str) -> None:
        super().__init__(f"{source}, line {line}, column {column}: {message}")
        self.source = source
        self.line = line
        self.column = column


@dataclass(frozen=True)
class CellSpec:
    """How one reader column converts its cells (`col_type`, `csv.col_format`, `col_default_value`)."""

    name: str
    field_type: FieldType
    col_format: str = ""
    default_value: str = ""


def is_blank(text: str) -> bool:
    """Go `len(strings.TrimSpace(text)) == 0`."""
    return not text.strip(_GO_SPACE)


# Plain numbers take fast paths with the same results as the Go ports (which handle everything else):
# - Decimal(text) is exact and ROUND_HALF_UP is half away from zero, like shopspring's Round;
# - Sscanf("%d") of a plain integer is the integer; <= 18 digits always fits int64;
# - Sscanf of a float verb on plain digits is ParseFloat, i.e. Python's correctly rounded float(); 150 integer
#   digits cannot overflow; shopspring NewFromFloat is the shortest repr, which is Python's repr().
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]{1,20}(?:\.[0-9]{1,20})?")
_PLAIN_INT = re.compile(r"[+-]?[0-9]{1,18}")
_PLAIN_FLOAT = re.compile(r"[+-]?[0-9]{1,150}(?:\.[0-9]{0,150})?")
_FLOAT_SCAN_VERBS = frozenset({"%f", "%g", "%e", "%v"})
_CENT = Decimal("0.01")
_ZERO2 = Decimal("0.00")
_EXACT = Context(prec=100, rounding=ROUND_HALF_UP)


def _round2(d: Decimal) -> Decimal:
    """shopspring Round(2) for values with at most ~100 digits."""
    q = d.quantize(_CENT, context=_EXACT)
    return q if q else _ZERO2  # shopspring has no negative zero


def _decimal2(text: str) -> Decimal:
    if _PLAIN_DECIMAL.fullmatch(text):
        return _round2(Decimal(text))
    return round_half_away(decimal_from_string(text), 2)


def _scanner_int(fmt: str) -> Converter:
    if fmt == "%d":
        return lambda text: int(text) if _PLAIN_INT.fullmatch(text) else sscanf_int(text, fmt)
    return lambda text: sscanf_int(text, fmt)


def _scanner_float(fmt: str) -> Callable[[str], float]:
    if fmt in _FLOAT_SCAN_VERBS:
        return lambda text: float(text) if _PLAIN_FLOAT.fullmatch(text) else sscanf_float(text, fmt)
    return lambda text: sscanf_float(text, fmt)


def _scanner_decimal2(fmt: str) -> Converter:
    """Sscanf into a float64, then decimal.NewFromFloat(f).Round(2)."""
    scan = _scanner_float(fmt)

    def convert(text: str) -> Value:
        f = scan(text)
        if _PLAIN_FLOAT.fullmatch(text):
            return _round2(Decimal(repr(f)))
        return round_half_away(decimal_from_float(f), 2)

    return convert


def _non_empty_converter(spec: CellSpec) -> Converter:
    """Conversion of a non-empty cell."""
    fmt = spec.col_format
    ft = spec.field_type
    if ft is FieldType.STRING:
        return lambda text: text
    if ft is FieldType.BOOL:
        return parse_bool
    if ft is FieldType.INT:
        return _scanner_int(fmt) if fmt else parse_int
    if ft is FieldType.FLOAT:
        return _scanner_float(fmt) if fmt else parse_float
    if ft is FieldType.DECIMAL2:
        return _scanner_decimal2(fmt) if fmt else _decimal2
    if not fmt:
        raise ValueError("datetime columns need a col_format (Go time layout)")
    return _cached_time_parser(fmt)


def _cached_time_parser(layout: str) -> Converter:
    """time.Parse for one layout; date columns repeat values a lot and datetimes are immutable, so cache them."""

    @lru_cache(maxsize=4096)
    def parse(text: str) -> Value:
        return gotime.parse(layout, text)

    return parse


def _default_parser(ft: FieldType, fmt: str) -> Converter:
    """Conversion of a non-blank `col_default_value` (parsed as written, never with a Sscanf format)."""
    if ft is FieldType.STRING:
        return lambda text: text
    if ft is FieldType.BOOL:
        return parse_bool
    if ft is FieldType.INT:
        return parse_int
    if ft is FieldType.FLOAT:
        return parse_float
    if ft is FieldType.DECIMAL2:
        return _decimal2
    return lambda text: gotime.parse(fmt, text)


def _empty_value(spec: CellSpec) -> Callable[[], Value]:
    """What an empty cell becomes: the parsed default, or the type's zero value. A bad default fails only when an
    empty cell actually needs it, as in Go."""
    ft = spec.field_type
    default = spec.default_value
    if ft is FieldType.STRING:
        return lambda: default
    if is_blank(default):
        zero = ft.zero()
        return lambda: zero
    parse = _default_parser(ft, spec.col_format)
    try:
        value = parse(default)
    except ValueError as e:
        message = f"cannot parse col_default_value {default!r} as {ft.value}: {e}"

        def fail() -> Value:
            raise ValueError(message)

        return fail
    return lambda: value


def make_converter(spec: CellSpec) -> Converter:
    """A function cell text -> value for the column; it raises ValueError describing the problem (without the
    place: `convert_cell` adds file, line and column)."""
    ft = spec.field_type
    if spec.col_format and ft in (FieldType.STRING, FieldType.BOOL):
        message = (
            f"format {spec.col_format!r} was specified, but {ft.value} fields do not accept format specifier, "
            "remove this setting"
        )

        def reject(text: str) -> Value:
            raise ValueError(message)

        return reject
    empty = _empty_value(spec)
    try:
        non_empty = _non_empty_converter(spec)
    except ValueError as e:
        message = str(e)

        def no_format(text: str) -> Value:
            if is_blank(text):
                return empty()
            raise ValueError(message)

        return no_format
    if ft is FieldType.STRING:
        return lambda text: non_empty(text) if text else empty()
    return lambda text: non_empty(text) if text.strip(_GO_SPACE) else empty()


def convert_cell(convert: Converter, spec: CellSpec, text: str, source: str, line: int) -> Value:
    """Run a column converter, turning its failure into an error that names file, line and column."""
    try:
        return convert(text)
    except (ValueError, OverflowError) as e:
        raise CellConversionError(
            source, line, spec.name, f"cannot read {spec.field_type.value} from {text!r}: {e}"
        ) from e
